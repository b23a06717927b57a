"""Tensors across the trust boundary: writing them in the candidate process, reading them back safely.

Owns: the on-disk format (a `torch.save` of {str: [Tensor, ...]}), the safe read on the trusted side
(opened with adrs.problemkit.open_output: never through a symbolic link, a FIFO or a device the
candidate put in its folder, and within a size; then `torch.load(weights_only=True)`, which refuses
arbitrary pickled objects, and a strict structure check), and exact input digests (sha256 of the
raw bytes) that let the trusted side see whether the candidate changed its inputs.

Must not: unpickle anything with the full pickle machinery, or judge values (verify.py does that).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch

from adrs.problemkit import CandidateFileError, open_output


class TensorFileError(ValueError):
    """A tensor file from the candidate side that is missing, too big or not of the agreed shape."""


def save_tensors(path: str | Path, groups: dict[str, list[torch.Tensor]]) -> None:
    """Write {key: [tensor, ...]} with plain, contiguous CPU tensors (no views of larger storages)."""
    plain = {key: [t.detach().to("cpu").contiguous().clone() for t in tensors] for key, tensors in groups.items()}
    torch.save(plain, str(path))


def load_tensors(path: str | Path, max_bytes: int) -> dict[str, list[torch.Tensor]]:
    """Read a file written by save_tensors in an untrusted process; raise TensorFileError if odd."""
    path = Path(path)
    try:
        f = open_output(path.parent, path.name, max_bytes)
    except FileNotFoundError as exc:
        raise TensorFileError(f"the candidate process wrote no {path.name}") from exc
    except CandidateFileError as exc:
        raise TensorFileError(str(exc)) from None
    with f:
        try:
            data = torch.load(f, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is the candidate's failure
            raise TensorFileError(f"{path.name} is not a plain tensor file: {type(exc).__name__}: {exc}") from exc
    return _check_structure(data, path.name)


def _check_structure(data: Any, name: str) -> dict[str, list[torch.Tensor]]:
    if not isinstance(data, dict):
        raise TensorFileError(f"{name}: expected a dict of tensor lists, got {type(data).__name__}")
    out: dict[str, list[torch.Tensor]] = {}
    for key, value in data.items():
        if not isinstance(key, str) or not isinstance(value, list | tuple):
            raise TensorFileError(f"{name}: entry {key!r} is not a list of tensors")
        tensors = []
        for i, t in enumerate(value):
            if type(t) is not torch.Tensor:
                raise TensorFileError(f"{name}: {key}[{i}] is a {type(t).__name__}, not a plain torch.Tensor")
            if t.layout != torch.strided or t.is_quantized or t.device.type != "cpu":
                raise TensorFileError(f"{name}: {key}[{i}] is not a dense CPU tensor")
            tensors.append(t)
        out[key] = tensors
    return out


def tensor_digest(t: torch.Tensor) -> str:
    """sha256 of the tensor's values in row-major order, with its dtype and shape (exact equality)."""
    flat = t.detach().to("cpu").contiguous().reshape(-1)
    raw = flat.view(torch.uint8) if flat.numel() else torch.empty(0, dtype=torch.uint8)
    digest = hashlib.sha256(f"{flat.dtype}|{tuple(t.shape)}|".encode())
    digest.update(raw.numpy().tobytes())
    return digest.hexdigest()


def input_digests(args: list[Any]) -> list[str | None]:
    """Digest of each tensor argument (None for scalars and other non-tensor arguments)."""
    return [tensor_digest(a) if isinstance(a, torch.Tensor) else None for a in args]
