"""Compact array transport between the trusted side and the candidate process: base64 of
little-endian integers inside the JSON payload and result (JSON lists of 14 000 ints per call
would dominate the evaluation time).

Owns: encoding and strict decoding (dtype, exact byte length, shape). Must not validate meaning:
decoded arrays are still untrusted and go through evaluators.eplb.placement.
"""

from __future__ import annotations

import base64
import binascii

import numpy as np


class DecodeError(ValueError):
    """A field that is not a well-formed base64 array of the expected shape."""


def encode(array: np.ndarray, dtype: str) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype=dtype).tobytes()).decode("ascii")


def decode(text: object, dtype: str, shape: tuple[int, ...], field: str) -> np.ndarray:
    """Decode `text` into an int64 array of `shape`; DecodeError names the field on any mismatch."""
    if not isinstance(text, str):
        raise DecodeError(f"{field}: expected a base64 string, got {type(text).__name__}")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecodeError(f"{field}: not base64 ({exc})") from None
    itemsize = np.dtype(dtype).itemsize
    expected = int(np.prod(shape)) * itemsize
    if len(raw) != expected:
        raise DecodeError(f"{field}: {len(raw) // itemsize} values, expected shape {shape}")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).astype(np.int64)
