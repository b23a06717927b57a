"""Seeded synthetic multi-region spot traces, fitted to the real ones (synthetic_params.json).

Model: for each window, zone z is available during a 10-minute step when a latent Gaussian x_z lies
below the zone's threshold (so its mean availability matches the real zone). The latent mixes a slow and a
fast stationary AR(1) process, x_z = sqrt(w_z) * slow_z + sqrt(1 - w_z) * fast_z, fitted to the
zone's autocorrelation from 10 minutes to 22 hours (which sets how long outages and spot runs last and
how much windows differ from one another); the innovations of all zones share one correlation
matrix, fitted to the real cross-zone correlation (zones of one AWS region move together). Steps
are held over the 195 s ticks they cover (from a random phase), which reproduces the real run
lengths of 3-4, 6-7, 9-10 ticks. Each
window's spot price per zone is drawn from the real windows' price deciles. The parameters come
from fit_synthetic.py, run once on the real data.

Every draw comes from random.Random seeded by (seed, window index), so a window is the same on
every machine and Python version. Must not: read the real data.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import numpy as np

from evaluators.cant_be_late_multi.model import ZoneTrace

PARAMS_PATH = Path(__file__).with_name("synthetic_params.json")
EVOLUTION_SEED = 1031  # quick and full stages without real data
HOLDOUT_SEED = 2063  # holdout stage without real data: windows never shown during evolution


def stationary_cross_factor(zone_i: dict, zone_j: dict) -> float:
    """Latent correlation of two zones per unit of innovation correlation (stationary AR(1) mix)."""

    def factor(a: float, b: float) -> float:
        return math.sqrt(1 - a * a) * math.sqrt(1 - b * b) / (1 - a * b)

    wi, wj = zone_i["slow_weight"], zone_j["slow_weight"]
    return math.sqrt(wi * wj) * factor(zone_i["phi_slow"], zone_j["phi_slow"]) + math.sqrt(
        (1 - wi) * (1 - wj)
    ) * factor(zone_i["phi_fast"], zone_j["phi_fast"])


@cache
def load_params(path: str = str(PARAMS_PATH)) -> dict:
    return json.loads(Path(path).read_text())


class SyntheticTraces:
    """Windows of synthetic traces for one seed; all zones of a window are drawn jointly."""

    def __init__(self, seed: int, params: dict | None = None):
        self.seed = seed
        self.params = params or load_params()
        self.zones: list[str] = list(self.params["zone_order"])
        self.ticks = int(self.params["ticks"])
        self.gap = float(self.params["gap_seconds"])
        self.step = float(self.params["step_seconds"])
        self.steps = math.ceil(self.ticks * self.gap / self.step) + 1
        zp = [self.params["zones"][z] for z in self.zones]
        innovation = np.array(self.params["innovation_correlation"], dtype=float)
        self._innovation_factor = np.linalg.cholesky(innovation)
        self._weights = np.array([p["slow_weight"] for p in zp])
        self._thresholds = np.array([p["threshold"] for p in zp])
        self._components = []
        for key in ("phi_slow", "phi_fast"):
            phi = np.array([p[key] for p in zp])
            scale = np.sqrt(1 - phi**2)
            # Stationary covariance of the component: R_ij * s_i * s_j / (1 - phi_i * phi_j).
            stationary = innovation * np.outer(scale, scale) / (1 - np.outer(phi, phi))
            self._components.append((phi, scale, np.linalg.cholesky(stationary)))
        self._cache: dict[int, dict[str, ZoneTrace]] = {}

    def window(self, index: int) -> dict[str, ZoneTrace]:
        if index not in self._cache:
            self._cache[index] = self._generate(index)
        return self._cache[index]

    def load(self, pairs: Iterable[tuple[str, int]]) -> dict[tuple[str, int], ZoneTrace]:
        return {(zone, index): self.window(index)[zone] for zone, index in pairs}

    def _generate(self, index: int) -> dict[str, ZoneTrace]:
        rng = random.Random(f"cant_be_late_multi/synthetic/{self.seed}/{index}")
        n, ticks = len(self.zones), self.steps
        latent = np.zeros((ticks, n))
        for weight_of, (phi, scale, start_factor) in zip(
            (np.sqrt(self._weights), np.sqrt(1 - self._weights)), self._components, strict=True
        ):
            draws = np.array([rng.gauss(0.0, 1.0) for _ in range((ticks + 1) * n)]).reshape(ticks + 1, n)
            shocks = draws[1:] @ self._innovation_factor.T
            state = start_factor @ draws[0]
            path = np.empty((ticks, n))
            for t in range(ticks):
                path[t] = state
                state = phi * state + scale * shocks[t]
            latent += weight_of * path
        # Hold each 10-minute step over the 195 s ticks it covers, from a random phase.
        phase = rng.random() * self.step
        step_of_tick = ((np.arange(self.ticks) * self.gap + phase) // self.step).astype(int)
        available = (latent < self._thresholds)[step_of_tick]
        result = {}
        for k, zone in enumerate(self.zones):
            deciles = self.params["zones"][zone]["spot_price_deciles"]
            result[zone] = ZoneTrace(
                zone=zone,
                available=tuple(bool(a) for a in available[:, k]),
                spot_price=round(_from_deciles(deciles, rng.random()), 4),
            )
        return result


def _from_deciles(deciles: list[float], u: float) -> float:
    """Inverse CDF by linear interpolation between the 11 decile points (0 %, 10 %, ..., 100 %)."""
    position = u * (len(deciles) - 1)
    low = min(int(position), len(deciles) - 2)
    return deciles[low] + (deciles[low + 1] - deciles[low]) * (position - low)
