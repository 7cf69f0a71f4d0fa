"""The private scikit-learn names skqat uses, imported in one place.

scikit-learn may move or rename a private name in any release. Imported
here, a moved one fails at ``import skqat`` with a message that names it
and says what to do, instead of an ImportError deep in a module.
"""

import importlib

import sklearn


def private_name(module, name):
    """``module.name`` from scikit-learn, or an ImportError that says what to do.

    Examples
    --------
    >>> private_name("sklearn.utils", "_safe_indexing").__name__
    '_safe_indexing'
    """
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        raise ImportError(
            f"skqat uses scikit-learn's private name {module}.{name}, which scikit-learn "
            f"{sklearn.__version__} does not have (scikit-learn moved or renamed it). Install "
            "a scikit-learn version that skqat supports (see its pyproject.toml), or a newer "
            "skqat.") from None


_fit_context = private_name("sklearn.base", "_fit_context")
Interval = private_name("sklearn.utils._param_validation", "Interval")
Options = private_name("sklearn.utils._param_validation", "Options")
StrOptions = private_name("sklearn.utils._param_validation", "StrOptions")
available_if = private_name("sklearn.utils._available_if", "available_if")
_check_sample_weight = private_name("sklearn.utils.validation", "_check_sample_weight")
_safe_indexing = private_name("sklearn.utils", "_safe_indexing")
_check_partial_fit_first_call = private_name("sklearn.utils.multiclass",
                                             "_check_partial_fit_first_call")
