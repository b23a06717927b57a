"""Momentum: push a constant that just paid off further in the direction it moved.

Owns: `extrapolate_constant`, the offline mutator's momentum edit, given the `Step`s of a gain
(adrs/search/focus.py: which literal on which line went from which value to which): on a parent
whose own creation raised a constant from 10 to 13 and gained, set it to 16, 19 or 25 (one, two
or four more of the same step; floats move by the same ratio as many times). Hill
climbing finds such a knob's next step only by chance (a random perturbation of a random
literal); a line search along a direction that just paid is how the adaptive search spends its
exploitation where the progress is. The steps come from the adaptive search (adrs/search/focus.py
reads them from the stored diff; adrs/search/ledger.py ends a gain's steps once `momentum_patience`
pushes of them failed to gain); a step whose literal is no longer on its line is skipped.

Must not: choose parents, read the archive, or use any randomness but the rng passed in.
"""

from __future__ import annotations

import ast
import math
import random
from collections.abc import Sequence

from adrs.mutate.offline.constants import constant_sites, float_literal, needs_parentheses
from adrs.mutate.offline.sites import Analysis
from adrs.mutate.offline.splices import Edit, Splice
from adrs.search.focus import Step

MULTIPLES = (1, 2, 4)  # one, two or four more steps: a line search whose reach grows, and may overshoot
MAX_FLOAT_RATIO = 10.0  # a float moved by more than this factor is a jump, not a direction


def next_value(step: Step, multiple: int) -> int | float | None:
    """The value `multiple` more steps along `step`, None when the step has no usable direction."""
    before, after = step.before, step.after
    if before == after:
        return None
    if type(before) is int and type(after) is int:
        return after + (after - before) * multiple
    before, after = float(before), float(after)
    if before != 0 and after != 0 and (before > 0) == (after > 0):
        ratio = after / before
        if 1 / MAX_FLOAT_RATIO <= ratio <= MAX_FLOAT_RATIO:
            return after * ratio**multiple
    return after + (after - before) * multiple


def extrapolate_constant(analysis: Analysis, rng: random.Random, steps: Sequence[Step]) -> Edit | None:
    """One step's literal moved `MULTIPLES` more steps along its direction; None if none applies."""
    sites = constant_sites(analysis)
    usable = [
        (step, site)
        for step in steps
        for site in sites
        if getattr(site.node, "lineno", None) == step.line and site.value == step.after
    ]
    if not usable:
        return None
    step, site = rng.choice(usable)
    multiple = rng.choice(MULTIPLES)
    value = next_value(step, multiple)
    if value is None:
        return None
    old_text = analysis.src.segment(site.node)
    if isinstance(value, int):
        new_text = str(value)
    else:
        digits = min(max(len(old_text.strip("-").replace(".", "").lstrip("0")) + 1, 3), 6)
        new_text = float_literal(value, float(site.value), digits) if math.isfinite(value) else None
    if new_text is None or new_text == old_text:
        return None
    if new_text.startswith("-") and isinstance(site.node, ast.Constant) and needs_parentheses(site):
        new_text = f"({new_text})"
    start, end = analysis.src.span(site.node)
    return Edit(
        (Splice(start, end, new_text),),
        f"extrapolate constant {old_text} -> {new_text} on line {step.line} "
        f"(it moved {step.before} -> {step.after} and gained)",
    )
