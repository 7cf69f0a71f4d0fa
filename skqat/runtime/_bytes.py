"""Byte-level reading and writing shared by the model file's sections (numpy only)."""

import struct

import numpy as np


class ModelFileError(ValueError):
    """A model file that cannot be read: not a model file, damaged, or from another version.

    Examples
    --------
    >>> from skqat.runtime import ModelFileError, load_bytes
    >>> try:
    ...     load_bytes(b"not a model")
    ... except ModelFileError as exc:
    ...     print("refused")
    refused
    """


def varint(n):
    """Unsigned LEB128: 7 bits a byte, least significant first (one byte below 128)."""
    n = int(n)
    if n < 0:
        raise ValueError("varint takes a non-negative integer.")
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def text(s):
    """A UTF-8 string with its varint length."""
    data = str(s).encode("utf-8")
    return varint(len(data)) + data


class Reader:
    """Sequential reads that refuse to run past the end (a damaged file never over-allocates)."""

    def __init__(self, data, offset=0):
        self.data, self.offset = data, offset

    def take(self, n):
        if n < 0 or self.offset + n > len(self.data):
            raise ModelFileError("The model file is truncated or its sizes are inconsistent.")
        chunk = self.data[self.offset:self.offset + n]
        self.offset += n
        return chunk

    def array(self, dtype, count):
        dtype = np.dtype(dtype)
        return np.frombuffer(self.take(dtype.itemsize * count), dtype=dtype).astype(
            dtype.newbyteorder("="))

    def unpack(self, fmt):
        fmt = struct.Struct(fmt)
        return fmt.unpack(self.take(fmt.size))

    def varint(self, limit=2**32):
        n, shift = 0, 0
        while True:
            byte = self.take(1)[0]
            n |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
            if shift > 35:
                raise ModelFileError("The model file holds an overlong number.")
        if n > limit:
            raise ModelFileError(f"The model file holds a count of {n}, more than {limit}.")
        return n

    def text(self):
        try:
            return self.take(self.varint(len(self.data))).decode("utf-8")
        except UnicodeDecodeError as err:
            raise ModelFileError("The model file holds text that is not valid UTF-8.") from err
