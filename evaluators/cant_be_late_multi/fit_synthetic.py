"""Fits the synthetic trace model to the real traces; run once, writes synthetic_params.json.

    python -m evaluators.cant_be_late_multi.fit_synthetic ../shared/data

Model (see synthetic.py): zone z is available in a 10-minute step when a latent Gaussian x_z is
below a threshold; x_z = sqrt(w_z) * slow_z + sqrt(1 - w_z) * fast_z, two stationary AR(1) processes with
coefficients shared by all zones, whose innovations are correlated across zones by one matrix R.

Fitted per zone: the threshold (from mean availability), w by least squares on the latent
autocorrelation at lags of 1..130 steps, with (phi_slow, phi_fast) shared by all zones (each binary
autocorrelation is converted to the latent correlation that produces it), and the spot-price
deciles of the trace windows. Across
zones: R from the lag-0 binary correlations, projected onto the valid correlation matrices.

Owns: fitting only. Must not: be imported by the evaluator (numpy-heavy, reads the real data).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path

import numpy as np

from evaluators.cant_be_late_multi.scenarios import ZONES
from evaluators.cant_be_late_multi.synthetic import PARAMS_PATH, stationary_cross_factor
from evaluators.cant_be_late_multi.traces import find_real_data, load_real

STEP_SECONDS = 600  # the real traces hold durations in whole 10-minute steps (runs of 3-4, 6-7, 9-10 ticks)
LAGS = (1, 2, 3, 4, 6, 8, 12, 18, 25, 35, 50, 70, 100, 130)  # in 600 s steps
WINDOWS = 100
_erfc = np.frompyfunc(math.erfc, 1, 1)


def normal_cdf(x: np.ndarray) -> np.ndarray:
    return (0.5 * _erfc(-np.asarray(x, dtype=float) / math.sqrt(2))).astype(float)


def both_below(a: float, b: float, rho: float) -> float:
    """P(X < a, Y < b) for standard normals with correlation rho (quadrature over X)."""
    xs = np.linspace(-9.0, a, 3000)
    density = np.exp(-0.5 * xs**2) / math.sqrt(2 * math.pi)
    inner = normal_cdf((b - rho * xs) / math.sqrt(1 - rho * rho))
    return float(np.trapezoid(density * inner, xs))


def normal_quantile(p: float) -> float:
    lo, hi = -9.0, 9.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if 0.5 * math.erfc(-mid / math.sqrt(2)) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def latent_correlation(binary_corr: float, p_i: float, p_j: float) -> float:
    """The latent correlation whose thresholded pair has this binary correlation (bisection)."""
    a, b = normal_quantile(p_i), normal_quantile(p_j)
    scale = math.sqrt(p_i * (1 - p_i) * p_j * (1 - p_j))
    lo, hi = -0.999, 0.9999
    for _ in range(50):
        mid = (lo + hi) / 2
        if (both_below(a, b, mid) - p_i * p_j) / scale < binary_corr:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def binary_autocorr(series: np.ndarray, lag: int) -> float:
    x, y = series[:, :-lag].ravel(), series[:, lag:].ravel()
    return float(np.corrcoef(x, y)[0, 1])


def fit_mixture(lags: tuple[int, ...], targets: list[list[float]]) -> tuple[list[float], float, float]:
    """Per-zone weights w and shared (phi_slow, phi_fast) minimising the squared error, summed over
    zones, of w*phi_slow^lag + (1-w)*phi_fast^lag. Shared time scales keep zones of different
    weights free to correlate (their components then have the same dynamics)."""
    lag = np.array(lags, dtype=float)
    goals = np.array(targets)
    best: tuple[float, list[float], float, float] = (math.inf, [], 0.99, 0.9)
    for tau_s in np.geomspace(20, 20000, 120):
        for tau_f in np.geomspace(0.3, 100, 90):
            slow, fast = np.exp(-lag / tau_s), np.exp(-lag / tau_f)
            diff = slow - fast
            denom = float(diff @ diff)
            if denom <= 0:
                continue
            weights = np.clip(((goals - fast) @ diff) / denom, 0, 1)
            err = float(np.sum((weights[:, None] * slow + (1 - weights[:, None]) * fast - goals) ** 2))
            if err < best[0]:
                best = (err, [float(w) for w in weights], math.exp(-1 / tau_s), math.exp(-1 / tau_f))
    return best[1], best[2], best[3]


def nearest_correlation(matrix: np.ndarray, floor: float = 1e-4) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    fixed = vectors @ np.diag(np.maximum(values, floor)) @ vectors.T
    d = np.sqrt(np.diag(fixed))
    return fixed / np.outer(d, d)


def fit(data_dir: str) -> dict:
    source = find_real_data(data_dir)
    if source is None:
        raise SystemExit("no real data: pass the data folder (e.g. ../shared/data)")
    traces = load_real(source, [(z, i) for z in ZONES for i in range(WINDOWS)])
    fine = {z: np.array([traces[(z, i)].available for i in range(WINDOWS)], dtype=float) for z in ZONES}
    # Sample every 600 s: the latent model runs on 10-minute steps, held over the 195 s ticks.
    steps = np.arange(0, fine[ZONES[0]].shape[1] * 195 / STEP_SECONDS) * STEP_SECONDS / 195
    series = {z: fine[z][:, np.round(steps).astype(int).clip(max=fine[z].shape[1] - 1)] for z in ZONES}
    availability = {z: float(series[z].mean()) for z in ZONES}
    latent = [
        [latent_correlation(binary_autocorr(series[z], lag), availability[z], availability[z]) for lag in LAGS]
        for z in ZONES
    ]
    weights, phi_slow, phi_fast = fit_mixture(LAGS, latent)
    zones = {}
    for z, w in zip(ZONES, weights, strict=True):
        p = availability[z]
        prices = [traces[(z, i)].spot_price for i in range(WINDOWS)]
        zones[z] = {
            "availability": round(p, 6),
            "threshold": round(normal_quantile(p), 6),
            "slow_weight": round(w, 6),
            "phi_slow": round(phi_slow, 8),
            "phi_fast": round(phi_fast, 8),
            "spot_price_deciles": [round(float(q), 4) for q in np.quantile(prices, np.linspace(0, 1, 11))],
            "observed": {
                "binary_autocorr_ticks": {
                    str(lag): round(binary_autocorr(fine[z], lag), 4) for lag in (1, 10, 100, 400)
                },
                "mean_on_run_ticks": round(statistics.mean(_runs(fine[z], 1.0)), 2),
                "mean_off_run_ticks": round(statistics.mean(_runs(fine[z], 0.0)), 2),
            },
        }
    pooled = np.array([series[z].ravel() for z in ZONES])
    binary = np.corrcoef(pooled)
    innovation = np.eye(len(ZONES))
    for i, zi in enumerate(ZONES):
        for j, zj in enumerate(ZONES):
            if j <= i:
                continue
            rho = latent_correlation(float(binary[i, j]), zones[zi]["availability"], zones[zj]["availability"])
            factor = stationary_cross_factor(zones[zi], zones[zj])
            innovation[i, j] = innovation[j, i] = float(np.clip(rho / factor, -0.98, 0.98))
    innovation = nearest_correlation(innovation)
    return {
        "about": "Fitted by fit_synthetic.py to shared/data/cant_be_late_multi/real_traces.tar.gz "
        "(9 zones x 100 windows of 1107 ticks of 195 s). See synthetic.py for the model.",
        "gap_seconds": 195,
        "ticks": 1107,
        "step_seconds": STEP_SECONDS,
        "zones": zones,
        "zone_order": list(ZONES),
        "innovation_correlation": [[round(float(v), 6) for v in row] for row in innovation],
        "observed_binary_correlation": [[round(float(v), 4) for v in row] for row in binary],
    }


def _runs(series: np.ndarray, value: float) -> list[int]:
    lengths = []
    for row in series:
        count = 0
        for v in row:
            if v == value:
                count += 1
            elif count:
                lengths.append(count)
                count = 0
        if count:
            lengths.append(count)
    return lengths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", help="shared/data or shared/data/cant_be_late_multi")
    parser.add_argument("--out", default=str(PARAMS_PATH))
    args = parser.parse_args()
    params = fit(args.data_dir)
    Path(args.out).write_text(json.dumps(params, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
