"""A full rewrite turned into a child: the parent's frozen text kept byte for byte.

Owns `rewrite_to_child`: a rewrite that carries the EVOLVE-BLOCK markers must leave the frozen
code around its regions as it was (up to blank lines and trailing spaces), and its regions' bodies
replace the parent's; a rewrite without markers is the new body of the parent's one region, with
any copy of the frozen text it echoed at either end dropped; a parent without markers takes the
rewrite whole. The child is the parent's own frozen lines around the new bodies, so its line
endings and markers are the parent's. A rewrite it cannot place is refused with a reason written
to be shown in the next prompt.

Must not: parse replies (edits_parse.py), apply SEARCH/REPLACE blocks or check that the child
compiles (edits.py), or run the program.
"""

from __future__ import annotations

from adrs.edits_parse import line_body
from adrs.program import END_MARKER, START_MARKER, MarkerError, regions_of_lines, split_lines


def _normalised(text: str) -> list[str]:
    return [line_body(line).rstrip() for line in split_lines(text) if line.strip()]


def _drop_echo(body: list[str], frozen: list[str], *, at_end: bool) -> list[str]:
    """Remove a copy of frozen text (ignoring blank lines and trailing spaces) from one end of `body`."""
    wanted = [line.rstrip() for line in frozen if line.strip() and START_MARKER not in line and END_MARKER not in line]
    if not wanted:
        return body
    seq = list(reversed(body)) if at_end else list(body)
    wanted = list(reversed(wanted)) if at_end else wanted
    position, matched = 0, 0
    while position < len(seq) and matched < len(wanted):
        if not seq[position].strip():
            position += 1
            continue
        if line_body(seq[position]).rstrip() != wanted[matched]:
            return body
        position += 1
        matched += 1
    if matched < len(wanted):
        return body
    rest = seq[position:]
    return list(reversed(rest)) if at_end else rest


def _frozen_chunks(lines: list[str], regions: list) -> list[list[str]]:
    """The lines before, between and after the regions (marker lines included)."""
    bounds = [0, *(edge for r in regions for edge in (r.start, r.end)), len(lines)]
    return [lines[bounds[k] : bounds[k + 1]] for k in range(0, len(bounds), 2)]


def _terminated(lines: list[str], newline: str) -> list[str]:
    if lines and not lines[-1].endswith(("\n", "\r")):
        return [*lines[:-1], lines[-1] + newline]
    return lines


def rewrite_to_child(parent: str, rewrite: str) -> tuple[str | None, str]:
    """The child a full rewrite stands for, with the parent's frozen text kept byte for byte; or a reason."""
    newline = "\r\n" if "\r\n" in parent else "\n"
    parent_lines = split_lines(parent)
    try:
        regions = regions_of_lines(parent_lines)
    except MarkerError as error:
        return None, f"the parent's EVOLVE-BLOCK markers are broken: {error}"
    marked = any(START_MARKER in line or END_MARKER in line for line in parent_lines)
    new_lines = split_lines(rewrite)
    if not marked:
        return rewrite, ""
    frozen = _frozen_chunks(parent_lines, regions)
    if any(START_MARKER in line or END_MARKER in line for line in new_lines):
        try:
            new_regions = regions_of_lines(new_lines)
        except MarkerError as error:
            return None, f"the rewrite's EVOLVE-BLOCK markers are broken: {error}"
        if len(new_regions) != len(regions):
            return None, f"the rewrite has {len(new_regions)} EVOLVE-BLOCK regions, the parent {len(regions)}"
        for k, (old, new) in enumerate(zip(frozen, _frozen_chunks(new_lines, new_regions), strict=True)):
            if _normalised("".join(old)) != _normalised("".join(new)):
                where = "before the first" if k == 0 else ("after the last" if k == len(frozen) - 1 else "between")
                return (
                    None,
                    f"the rewrite changes frozen code {where} EVOLVE-BLOCK region; change only the code between the "
                    f"markers",
                )
        bodies = [new_lines[r.start : r.end] for r in new_regions]
    elif len(regions) == 1:
        body = _drop_echo(new_lines, frozen[0], at_end=False)
        bodies = [_drop_echo(body, frozen[1], at_end=True)]
    else:
        return (
            None,
            f"the rewrite has no EVOLVE-BLOCK markers but the parent has {len(regions)} regions: return the whole "
            f"program with its markers",
        )
    out: list[str] = list(frozen[0])
    for body, after in zip(bodies, frozen[1:], strict=True):
        out += _terminated(list(body), newline) + after
    return "".join(out), ""
