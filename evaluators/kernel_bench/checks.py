"""In-process checks of a candidate kernel's behaviour: aliasing, input mutation, calling the reference.

Runs inside the candidate's process, next to the candidate, so a determined candidate could defeat
these checks (it shares the interpreter). They exist to give honest mistakes and the usual reward
hacks (returning an input, a cached tensor, the reference's own output) a clear rejection reason;
the trusted side independently recomputes the reference and compares values and input digests.

Must not: time anything or decide the score.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

import torch


def storage_span(t: torch.Tensor) -> tuple[int, int]:
    """[start, end) byte addresses of the storage behind a tensor (views share their base's)."""
    storage = t.untyped_storage()
    start = storage.data_ptr()
    return start, start + storage.nbytes()


def overlaps(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Whether two tensors share any storage bytes (so writing one could change the other)."""
    if a.device != b.device:
        return False
    a0, a1 = storage_span(a)
    b0, b1 = storage_span(b)
    if a1 == a0 or b1 == b0:
        return False
    return a0 < b1 and b0 < a1


def as_output_tuple(value: Any, count: int) -> tuple[torch.Tensor, ...]:
    """The candidate's return value as `count` plain tensors, or ValueError saying what is wrong."""
    items = (value,) if isinstance(value, torch.Tensor) else value
    if not isinstance(items, tuple | list) or len(items) != count:
        raise ValueError(f"expected {count} tensor(s), got {type(value).__name__}")
    for i, t in enumerate(items):
        if not isinstance(t, torch.Tensor):
            raise ValueError(f"output {i} is a {type(t).__name__}, not a torch.Tensor")
        if type(t) is not torch.Tensor:
            raise ValueError(f"output {i} is a tensor subclass ({type(t).__name__}); return a plain tensor")
        if t.layout != torch.strided:
            raise ValueError(f"output {i} is not a dense (strided) tensor")
    return tuple(items)


def aliasing_problem(
    outputs: tuple[torch.Tensor, ...], inputs: list[Any], others: list[torch.Tensor], others_label: str
) -> str | None:
    """A sentence if an output shares storage with an input, another output or an `others` tensor."""
    for i, out in enumerate(outputs):
        for j, arg in enumerate(inputs):
            if isinstance(arg, torch.Tensor) and overlaps(out, arg):
                return f"output {i} aliases input {j} (it shares the input's storage); return a new tensor"
        for j, other in enumerate(outputs[:i]):
            if overlaps(out, other):
                return f"outputs {j} and {i} share storage"
        for other in others:
            if overlaps(out, other):
                return f"output {i} shares storage with {others_label}"
    return None


def mutation_problem(inputs: list[Any], pristine: list[Any], names: list[str]) -> str | None:
    """A sentence if any tensor input differs from its pristine clone after the call."""
    for arg, before, name in zip(inputs, pristine, names, strict=True):
        if isinstance(arg, torch.Tensor) and not _same(arg, before):
            return f"the kernel modified its input '{name}' in place; inputs must be left unchanged"
    return None


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    # Bitwise comparison: torch.equal treats NaN != NaN and -0.0 == 0.0, neither is what we want.
    return bool(torch.equal(a.contiguous().view(-1).view(torch.uint8), b.contiguous().view(-1).view(torch.uint8)))


def clone_args(args: list[Any]) -> list[Any]:
    return [a.clone() if isinstance(a, torch.Tensor) else a for a in args]


class ReferenceGuard:
    """Wraps the reference so that calls made while the candidate runs are counted and reported."""

    def __init__(self, fn: Callable[..., Any], label: str):
        self.fn = fn
        self.label = label
        self.active = False
        self.calls_by_candidate = 0
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.active:
            self.calls_by_candidate += 1
        return self.fn(*args, **kwargs)

    @contextlib.contextmanager
    def candidate_running(self) -> Iterator[None]:
        self.active = True
        try:
            yield
        finally:
            self.active = False

    def problem(self) -> str | None:
        if self.calls_by_candidate:
            return (
                f"the candidate called the reference implementation ({self.label}) "
                f"{self.calls_by_candidate} time(s); it must compute the result itself"
            )
        return None
