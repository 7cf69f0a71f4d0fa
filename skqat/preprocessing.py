"""A preprocessing step for tabular and KPI data frames, ready for a pipeline."""

from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import OneHotEncoder


__all__ = ["make_tabular_preprocessor"]


def make_tabular_preprocessor():
    """Impute numeric columns (with missing-value indicators) and one-hot the others.

    The estimators standardize their inputs themselves, so numeric columns
    are only imputed (by the median, plus an indicator column for each
    column that had missing values during ``fit``). Columns of dtype
    object, string, bool or category are one-hot encoded; categories unseen
    during ``fit`` encode as all zeros.

    Returns
    -------
    sklearn.compose.ColumnTransformer
        Unfitted; selects columns by dtype, so it needs a pandas DataFrame.

    Examples
    --------
    >>> import pandas as pd
    >>> from skqat.preprocessing import make_tabular_preprocessor
    >>> df = pd.DataFrame({"rsrp": [-90.0, None, -101.0], "band": ["n78", "n1", "n78"]})
    >>> make_tabular_preprocessor().fit_transform(df).shape
    (3, 4)
    """
    return make_column_transformer(
        (SimpleImputer(strategy="median", add_indicator=True),
         make_column_selector(dtype_include="number")),
        (OneHotEncoder(handle_unknown="ignore", sparse_output=False),
         make_column_selector(dtype_include=["object", "string", "bool", "category"])),
    )
