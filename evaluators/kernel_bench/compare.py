"""Comparing a kernel's outputs with the reference's under a per-dtype tolerance.

Used on the trusted side (the verdict) and inside the candidate's process (an early, clearly worded
rejection of timed repetitions whose result is wrong). Values are compared in float64; positions
where the reference is finite must be finite in the candidate too.

Must not: load files, time anything or decide a score.
"""

from __future__ import annotations

import torch

from evaluators.kernel_bench.cases import Tolerance


def mismatch(
    got: tuple[torch.Tensor, ...] | list[torch.Tensor], want: tuple[torch.Tensor, ...], tol: Tolerance
) -> str | None:
    """None when every output matches; else a sentence naming the first bad output and how bad."""
    if len(got) != len(want):
        return f"returned {len(got)} output(s), expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        if tuple(g.shape) != tuple(w.shape):
            return f"output {i} has shape {tuple(g.shape)}, expected {tuple(w.shape)}"
        if g.dtype != w.dtype:
            got_dtype, want_dtype = str(g.dtype).removeprefix("torch."), str(w.dtype).removeprefix("torch.")
            return f"output {i} has dtype {got_dtype}, expected {want_dtype}"
        problem = _values_mismatch(g.to(w.device), w, tol)
        if problem:
            return f"output {i}: {problem}"
    return None


def _values_mismatch(g: torch.Tensor, w: torch.Tensor, tol: Tolerance) -> str | None:
    if w.numel() == 0:
        return None
    gd, wd = g.detach().double(), w.detach().double()
    want_finite = torch.isfinite(wd)
    err = (gd - wd).abs()
    bound = tol.atol + tol.rtol * wd.abs()
    bad = (want_finite & ~torch.isfinite(gd)) | (want_finite & (err > bound))
    # Where the reference itself is inf/nan the candidate must agree exactly on the special value.
    special = ~want_finite
    if bool(special.any()):
        same_special = (gd == wd) | (torch.isnan(gd) & torch.isnan(wd))
        bad |= special & ~same_special
    count = int(bad.sum())
    if count == 0:
        return None
    flat = int(torch.nonzero(bad.reshape(-1))[0])
    index = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), w.shape))
    worst = float(torch.where(want_finite, err, torch.zeros_like(err)).max())
    return (
        f"{count} of {w.numel()} values outside tolerance (rtol={tol.rtol:g}, atol={tol.atol:g}); "
        f"first at index {index}: got {float(gd.reshape(-1)[flat]):.6g}, expected {float(wd.reshape(-1)[flat]):.6g}; "
        f"max |error| {worst:.3g}"
    )
