"""The data home: where dataset files live, how they are verified and downloaded."""

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

_RAW = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"

# relative path in the data home -> (sha256, original public URL)
FILES = {
    "ucc_5g/5G-production-dataset.zip": (
        "abc729d696b5e0ba34a9c6ed35a851f2868d2b5071be5efb8a49691c23bb1a9b",
        _RAW.format(repo="uccmisl/5Gdataset", commit="3175653a6fc09611b7dba15e0e128183e6af7c6c",
                    path="5G-production-dataset.zip")),
    "yt_qoe/ifip_networking.csv.gz": (
        "b990a0099dfbe297d286e337fd610e958a746da0698e6e3e5af1ce9132c9bacc",
        _RAW.format(repo="csieber/yt-dataset", commit="88ece266d79a6c1fe732597224aaabb29b58cad0",
                    path="data/ifip_networking.csv.gz")),
    **{
        f"covertype/covertype_{s}.csv": (
            digest,
            _RAW.format(repo="marsbroshok/mlops-labs",
                        commit="103f1e3bf20f5bcf9edf800003d2c3c90d1585a6",
                        path=f"datasets/covertype/covertype_{s}.csv"))
        for s, digest in [
            ("validate", "dedab4d69441e2e120579556227be54e26e85267b91175f637fec83e4a1e4f46"),
            ("testing", "72888f40ccd825094face6616be556300156830a8f9106715c4429e4ba8f8f57"),
            ("serving", "8eae05c09ce410954e6d944ae6bcb8b5e5328efbc4fc73673dcafd276fff6467"),
        ]
    },
    "california_housing/housing.csv": (
        "8a3727f4cf54ac1a327f69b1d5b4db54c5834ea81c6e4efc0d163300022a685e",
        _RAW.format(repo="ageron/handson-ml2", commit="aa555aa16b9d0af6c84e67c7757f3317d05acb12",
                    path="datasets/housing/housing.csv")),
}
_TIMEOUT_S = 60


class DatasetError(OSError):
    """A dataset file is missing (and cannot be downloaded) or fails its checksum.

    Subclasses :class:`OSError`; the message names the file, its source URL
    and the data home.

    Examples
    --------
    >>> import tempfile
    >>> from skqat.datasets import DatasetError, fetch_yt_qoe
    >>> try:
    ...     fetch_yt_qoe(data_home=tempfile.mkdtemp(), download_if_missing=False)
    ... except DatasetError:
    ...     print("missing")
    missing
    """


def get_data_home(data_home=None):
    """Folder that holds the datasets.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Explicit folder; else the ``SKQAT_DATA_HOME`` environment variable,
        else ``~/skqat_data``.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> from skqat.datasets import get_data_home
    >>> str(get_data_home("/tmp/somewhere"))
    '/tmp/somewhere'
    """
    if data_home is None:
        data_home = os.environ.get("SKQAT_DATA_HOME") or Path.home() / "skqat_data"
    return Path(data_home).expanduser()


def source_url(relpath):
    """Where a file is downloaded from.

    The original public source, unless the ``SKQAT_DATA_MIRROR`` environment
    variable names a mirror: a base URL laid out like the data home.

    Parameters
    ----------
    relpath : str
        The file's path in the data home, e.g. ``"yt_qoe/ifip_networking.csv.gz"``.

    Returns
    -------
    str
    """
    mirror = os.environ.get("SKQAT_DATA_MIRROR")
    return f"{mirror.rstrip('/')}/{relpath}" if mirror else FILES[relpath][1]


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _download(relpath, path):
    url = source_url(relpath)
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response:
            data = response.read()
    except (urllib.error.URLError, OSError) as err:
        raise DatasetError(
            f"{relpath} is not in the data home {path.parent.parent} and downloading it from "
            f"{url} failed ({err}). Download it by hand into that folder, or point the "
            "data_home argument or the SKQAT_DATA_HOME environment variable at a folder "
            "that has it."
        ) from err
    digest = _sha256(data)
    if digest != FILES[relpath][0]:
        raise DatasetError(
            f"The file downloaded from {url} has sha256 {digest}, not the published "
            f"{FILES[relpath][0]}; it was not kept. Retry later or download it by hand."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    # Atomic: a reader never sees a half-written file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return data


def verified_bytes(relpath, data_home=None, download_if_missing=True):
    """The bytes of a dataset file, checked against its published sha256.

    Parameters
    ----------
    relpath : str
        Path in the data home (a key of ``FILES``).
    data_home : str or path-like, default=None
        See :func:`get_data_home`.
    download_if_missing : bool, default=True
        Download a missing file from :func:`source_url` into the data home.

    Returns
    -------
    bytes

    Raises
    ------
    DatasetError
        The file is missing and not downloaded, or fails its checksum.
    """
    path = get_data_home(data_home) / relpath
    if not path.is_file():
        if download_if_missing:
            return _download(relpath, path)
        raise DatasetError(
            f"{relpath} is not in the data home {path.parent.parent} and "
            f"download_if_missing=False. Download it from {source_url(relpath)} into that "
            "folder, pass download_if_missing=True, or point the data_home argument or the "
            "SKQAT_DATA_HOME environment variable at a folder that has it."
        )
    raw = path.read_bytes()
    digest = _sha256(raw)
    if digest != FILES[relpath][0]:
        raise DatasetError(
            f"{path} has sha256 {digest}, not the published {FILES[relpath][0]}: the file is "
            "damaged or a different version. Delete it (it is downloaded again when missing) "
            "or replace it with the original."
        )
    return raw
