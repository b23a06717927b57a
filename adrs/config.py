"""Run configuration: one frozen record, stored with the run so resume uses the same settings.

Owns: every knob of a run with its default and the reason for it, and the range each must lie
in, checked when the record is built (validation.py's rules): a bad value is a SettingError that
names the field and its flag, whether it came from the CLI, the Python API or a stored run. Values
come from the CLI or the Python API; `to_dict`/`from_dict` round-trip through the archive's runs
table.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

from adrs.archive.select import SelectionConfig
from adrs.search.config import AdaptiveConfig
from adrs.validation import SettingError, require

# What proposes children: auto (the LLM when a model is configured, else offline), offline, llm.
MUTATORS = ("auto", "offline", "llm")


def _default_workers() -> int:
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class RunConfig:
    budget: int = 100  # evaluations this invocation may spend (resume gives a new budget)
    seed: int = 0  # every random choice of the run flows from it
    workers: int = field(default_factory=_default_workers)  # concurrent evaluation slots
    islands: int = 3  # independent sub-populations; diversity without a global tournament
    migration_interval: int = 25  # evaluations between migrations of island bests to the next island
    # Proposals waiting for a slot; 0 = max(2 x workers, workers + LLM calls in flight): fresh parents,
    # busy slots, and room for a whole round of LLM answers, so a full queue never holds back the next calls.
    queue_size: int = 0
    max_time_s: float | None = None  # wall-clock budget of this invocation
    target_score: float | None = None  # stop once a complete program reaches it
    data_dir: str | None = None  # real data for the problem (else its synthetic workload)
    sandbox: str | None = None  # process | bwrap | docker for candidates; None: the problem's [problem] sandbox
    docker_image: str | None = None  # the docker sandbox's image; None: ADRS_DOCKER_IMAGE or adrs-sandbox:latest
    warm_start: bool = True  # stage workers forked by a pre-started server (off: --cold-start, [problem] warm_start)
    executor: str = "local"  # where evaluations run: local (this machine's slots) or ray (Ray tasks, adrs[ray])
    ray_address: str | None = (
        None  # an existing Ray cluster (HOST:PORT, auto); None: a local Ray in the run's directory
    )
    mutator: str = "auto"  # auto: the LLM when a model is configured, else offline; or offline | llm
    llm: dict[str, Any] = field(
        default_factory=dict
    )  # the run's [llm] table (adrs.mutate.llm.models), over problem.toml's
    max_cost: float | None = None  # dollars of LLM calls for the whole run (all invocations); None: no cap
    offline_share: float = 0.0  # share of proposals given to the offline mutator in an LLM run
    max_duplicate_streak: int = 200  # consecutive duplicate proposals before giving up: search exhausted
    max_failure_streak: int | None = 50  # failed evaluations in a row that stop the run as a failure; None: never
    stagnation: int | None = None  # stop after this many evaluations without a new best
    # re-seed an island from the global best after this many of its evaluations without improving
    # (not under --selection adaptive: it retires and spawns islands instead)
    island_stagnation: int | None = 60
    novelty: float | None = (
        None  # reject a child more similar than this (token-shingle Jaccard) to a program of its island
    )
    deterministic: bool = (
        False  # proposal i sees exactly the results of proposals < i - lag: same archive for any worker count
    )
    lag: int = 4  # deterministic runs: how far proposals may run ahead of finished evaluations
    evaluate_holdout: bool = True  # score the final best on the holdout stages at the end
    steerable: bool = False  # read a person's steering from the archive (`adrs serve --steer`) before each proposal
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    adaptive: AdaptiveConfig = field(default_factory=AdaptiveConfig)  # knobs of --selection adaptive (adrs/search/)

    def __post_init__(self) -> None:
        _check(self)

    def effective_queue_size(self, concurrency: int = 1) -> int:
        """The queue's bound for a source with `concurrency` proposals in flight."""
        return self.queue_size or max(2 * self.workers, self.workers + concurrency)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], **overrides: Any) -> RunConfig:
        """The config a run was stored with (`to_dict`), with `overrides` for its resumption."""
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if isinstance(values.get("selection"), dict):
            values["selection"] = SelectionConfig(**values["selection"])
        if isinstance(values.get("adaptive"), dict):
            # A run stored before adaptive v6 swept without control pairs, and before the guards
            # (stop 39) without guards: it resumes as it ran.
            legacy = {"sweep_control": False, "guard_share": 0.0}
            values["adaptive"] = AdaptiveConfig.from_dict({**legacy, **values["adaptive"]})
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


# The command-line flag of each field that has one, for messages.
_FLAGS = {
    "budget": "--budget",
    "seed": "--seed",
    "workers": "--workers",
    "islands": "--islands",
    "max_time_s": "--max-time",
    "target_score": "--target",
    "max_cost": "--max-cost",
    "offline_share": "--offline-share",
    "stagnation": "--stagnation",
    "novelty": "--novelty",
    "lag": "--lag",
}
# field -> the rule it must follow (validation.problem_with's keywords); optional: None is allowed.
_RULES: dict[str, dict[str, Any]] = {
    "budget": {"whole": True, "at_least": 1},
    "seed": {"whole": True},
    "workers": {"whole": True, "at_least": 1},
    "islands": {"whole": True, "at_least": 1},
    "migration_interval": {"whole": True, "at_least": 1},
    "queue_size": {"whole": True, "at_least": 0},
    "max_time_s": {"above": 0, "optional": True},
    "target_score": {"optional": True},
    "max_cost": {"above": 0, "optional": True},
    "offline_share": {"at_least": 0, "below": 1},
    "max_duplicate_streak": {"whole": True, "at_least": 1},
    "stagnation": {"whole": True, "at_least": 1, "optional": True},
    "island_stagnation": {"whole": True, "at_least": 1, "optional": True},
    "novelty": {"above": 0, "at_most": 1, "optional": True},
    "lag": {"whole": True, "at_least": 0},
}


def _check(config: RunConfig) -> None:
    for name, rule in _RULES.items():
        shown = f"{_FLAGS[name]} ({name})" if name in _FLAGS else name
        require(shown, getattr(config, name), **rule)
    if config.mutator not in MUTATORS:
        raise SettingError(f"--mutator (mutator): unknown mutator {config.mutator!r}; available: {', '.join(MUTATORS)}")
    if not isinstance(config.selection, SelectionConfig):
        raise SettingError(f"selection: expected a SelectionConfig, got {config.selection!r}")
    if not isinstance(config.adaptive, AdaptiveConfig):
        raise SettingError(f"adaptive: expected an AdaptiveConfig, got {config.adaptive!r}")
    if config.adaptive.written_strategy and config.selection.strategy != "adaptive":
        raise SettingError(
            "--evolve-selection (adaptive.written_strategy): a written selection strategy replaces the adaptive "
            f"search's parents; it needs --selection adaptive, not {config.selection.strategy}"
        )
