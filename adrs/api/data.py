"""Real data of the built-in problems: list, fetch, verify, and where it is (`adrs data`).

    import adrs
    adrs.data_root()                                   # ~/.local/share/adrs/data (or ADRS_DATA)
    adrs.fetch_data(["cloudcast"])                     # from GitHub at pinned commits, verified
    adrs.fetch_data(["cloudcast"], mirror="/srv/mirror")   # or from a local mirror
    for entry in adrs.data_status(): print(entry.problem, entry.complete)

Owns: the root these work on (an explicit folder, else `adrs.datasets.location.default_root()`),
and the list of every problem of a folder with whether it has real data at all.

Must not: render anything (the CLI does), or fetch anything unless asked to.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from adrs.datasets.catalog import CATALOG
from adrs.datasets.fetch import DataError, ProblemStatus, fetch, status
from adrs.datasets.location import data_dir_for, default_root


@dataclass(frozen=True)
class DataOverview:
    """`adrs data list`: the root, then each problem with real data (its status), and those without."""

    root: Path
    problems: list[ProblemStatus]
    synthetic_only: list[str]  # problems of the problems folder that have no public real data


def data_in_use(problem_name: str, data_dir: str | None = None) -> str:
    """In words, the data an evaluation of the problem reads with `data_dir` (--data) as given."""
    folder = data_dir_for(problem_name, data_dir)
    if folder is not None:
        return f"real data from {folder}"
    if problem_name in CATALOG:
        return f"the synthetic workload (real data: adrs data fetch {problem_name})"
    return "the synthetic workload"


def data_root(explicit: str | Path | None = None) -> Path:
    """The data root: `explicit` (--data), else ADRS_DATA, else ~/.local/share/adrs/data."""
    return Path(explicit).expanduser() if explicit else default_root()


def _chosen(problems: Sequence[str]) -> list[str]:
    chosen = list(problems) or sorted(CATALOG)
    unknown = [p for p in chosen if p not in CATALOG]
    if unknown:
        raise DataError(
            f"{unknown[0]}: no public real data is known for this problem "
            f"(problems with data: {', '.join(sorted(CATALOG))})"
        )
    return chosen


def data_status(
    problems: Sequence[str] = (), root: str | Path | None = None, problems_folder: str | Path | None = None
) -> DataOverview:
    """What the data root holds of each problem's real data (all problems with data by default)."""
    from adrs.api.problems import list_problems

    folder = data_root(root)
    statuses = [status(problem, folder) for problem in _chosen(problems)]
    try:
        names = [entry.name for entry in list_problems(problems_folder) if entry.error is None]
    except OSError:
        names = []
    return DataOverview(folder, statuses, sorted(n for n in names if n not in CATALOG))


def fetch_data(
    problems: Sequence[str] = (),
    *,
    root: str | Path | None = None,
    mirror: str | None = None,
    force: bool = False,
    say: Callable[[str], None] = lambda _line: None,
) -> list[ProblemStatus]:
    """Fetch (and verify) the real data of `problems` (all with data by default) into the root.

    `mirror`: a folder or URL laid out as `<repo>/<commit>/<path>` instead of GitHub. Files already
    there and verified are kept unless `force`."""
    folder = data_root(root)
    return [fetch(problem, folder, mirror=mirror, force=force, say=say) for problem in _chosen(problems)]
