"""Aliases that let leaderboard programs run unchanged: `sky_spot.strategies.strategy` and `sky_spot.utils`.

The leaderboard's programs import `Strategy` from `sky_spot.strategies.strategy` and `ClusterType`
from `sky_spot.utils`. The driver's `before_import` hook calls `install_sky_spot_aliases()` in the
candidate's process, before the program is imported, so those imports resolve to this problem's
`evaluators.cant_be_late.strategy`. Only those two names exist (the simulator's look-ahead helpers
and the multi-region classes do not).

Must not: shadow a real `sky_spot` package that is installed, or run in the trusted process.
"""

from __future__ import annotations

import importlib.util
import sys
import types

from evaluators.cant_be_late.strategy import ClusterType, Strategy


def install_sky_spot_aliases() -> None:
    if "sky_spot" in sys.modules or importlib.util.find_spec("sky_spot") is not None:
        return
    package = _module("sky_spot", package=True)
    strategies = _module("sky_spot.strategies", package=True)
    strategy = _module("sky_spot.strategies.strategy")
    utils = _module("sky_spot.utils")
    strategy.Strategy = Strategy
    utils.ClusterType = ClusterType
    package.strategies, package.utils, strategies.strategy = strategies, utils, strategy


def _module(name: str, package: bool = False) -> types.ModuleType:
    module = types.ModuleType(name)
    if package:
        module.__path__ = []
    sys.modules[name] = module
    return module
