"""Synthetic beer-review tables with beer.csv's statistics, so the problem runs without the real file.

Owns: `synthetic_table(seed, n_rows)`. The model (parameters fitted once by fit_beer.py, stored in
beer_params.json; every random choice flows from `seed` through one numpy Generator):

- beers with a heavy-tailed number of reviews each; beers belong to breweries, and a beer's name is
  its brewery's prefix plus its own words (so distinct names share prefixes, as in the file);
- per beer: an id (ids of one brewery close together, sharing leading digits) and a style drawn
  from a skewed style popularity; name, id and style are functions of the beer;
- per review: a reviewer (each reviewer writes a heavy-tailed number of reviews), a day near the
  beer's own centre of reviewing days (10-digit Unix time at midnight) or, as often as in the
  file, a day on which the same reviewer already reviewed another beer, and four ratings from a Gaussian copula with
  the fitted marginals, correlation and the share of variance explained by the beer;
- rows grouped by beer and beers by brewery, as in the file.

Counts (beers, breweries, reviewers) scale with `n_rows`. Text is random lowercase words; only its
lengths and sharing structure follow the file.

Must not: read the real data (it runs where the data is absent).
"""

from __future__ import annotations

import json
import math
import string
from functools import cache
from pathlib import Path

import numpy as np

from evaluators.llm_sql.table import Table, from_raw

PARAMS = Path(__file__).with_name("beer_params.json")
MERGE = [["beer/beerId", "beer/name"]]
DAY = 86400
_LETTERS = np.array(list(string.ascii_lowercase))


@cache
def beer_params() -> dict:
    return json.loads(PARAMS.read_text())


def synthetic_table(seed: int, n_rows: int, name: str | None = None) -> Table:
    """A beer-like table of `n_rows` rows; the same (seed, n_rows) gives the same table."""
    p = beer_params()
    rng = np.random.default_rng(seed)
    scale = n_rows / p["source"]["rows"]
    n_beers = max(1, min(n_rows, round(p["beers"]["count"] * scale)))
    rows_per_beer = _split_rows(rng, _draw(rng, p, p["beers"]["rows_per_beer"], n_beers, log=True), n_rows)
    brewery_of = _breweries(rng, p, n_beers)
    names = _beer_names(rng, p, brewery_of)
    ids = _beer_ids(rng, p, brewery_of)
    styles = _styles(rng, p, n_beers)
    reviewers, activity = _reviewers(rng, p, max(1, min(n_rows, round(p["reviewers"]["count"] * scale))))
    beer_order = sorted(range(n_beers), key=lambda b: (brewery_of[b], rng.random()))
    beer_of_row = np.repeat(np.array(beer_order), [rows_per_beer[b] for b in beer_order])
    reviewer_of_row = rng.permutation(np.repeat(np.arange(len(reviewers)), _split_rows(rng, activity, n_rows)))
    times = _times(rng, p, n_beers, beer_of_row, reviewer_of_row)
    ratings = _ratings(rng, p, n_beers, beer_of_row)
    by_column = {
        "review/profileName": [reviewers[i] for i in reviewer_of_row],
        "review/time": [str(t) for t in times],
        **ratings,
        "beer/name": [names[b] for b in beer_of_row],
        "beer/style": [styles[b] for b in beer_of_row],
        "beer/beerId": [str(ids[b]) for b in beer_of_row],
    }
    columns = p["columns"]
    raw = [list(values) for values in zip(*(by_column[c] for c in columns), strict=True)]
    return from_raw(name or f"synthetic-beer-{seed}-{n_rows}", columns, raw, MERGE)


def _draw(rng: np.random.Generator, p: dict, quantiles: list[float], size: int, *, log: bool = False) -> np.ndarray:
    """Samples from the distribution given by its quantiles at p['probs'] (inverse-CDF interpolation)."""
    q = np.log(np.maximum(quantiles, 1e-9)) if log else np.asarray(quantiles)
    values = np.interp(rng.random(size), p["probs"], q)
    return np.exp(values) if log else values


def _split_rows(rng: np.random.Generator, weights: np.ndarray, n_rows: int) -> list[int]:
    """Integer rows per beer, at least one each, proportional to the drawn weights, summing to n_rows."""
    n = len(weights)
    extra = n_rows - n
    shares = weights / weights.sum() * extra
    counts = np.floor(shares).astype(int)
    short = extra - int(counts.sum())
    counts[np.argsort(-(shares - counts), kind="stable")[:short]] += 1
    return [int(c) + 1 for c in counts]


def _breweries(rng: np.random.Generator, p: dict, n_beers: int) -> list[int]:
    sizes: list[int] = []
    while sum(sizes) < n_beers:
        sizes.append(max(1, round(float(_draw(rng, p, p["breweries"]["beers_per_brewery"], 1)[0]))))
    sizes[-1] -= sum(sizes) - n_beers
    return [b for b, size in enumerate(sizes) for _ in range(size)]


def _words(rng: np.random.Generator, length: int, *, capital: bool = True) -> str:
    """Random words of 2-9 letters, joined by spaces, about `length` characters long."""
    parts, used = [], 0
    while used < max(length, 1):
        size = int(rng.integers(2, 10))
        word = "".join(rng.choice(_LETTERS, size))
        parts.append(word.capitalize() if capital else word)
        used += size + 1
    return " ".join(parts)


def _beer_names(rng: np.random.Generator, p: dict, brewery_of: list[int]) -> list[str]:
    prefixes = {
        b: _words(rng, round(float(_draw(rng, p, p["breweries"]["prefix_len"], 1)[0]))) for b in sorted(set(brewery_of))
    }
    suffixes = _draw(rng, p, p["breweries"]["suffix_len"], len(brewery_of))
    names, seen = [], set()
    for beer, brewery in enumerate(brewery_of):
        name = f"{prefixes[brewery]} {_words(rng, round(float(suffixes[beer])))}"
        while name in seen:
            name += f" {_words(rng, 3)}"
        seen.add(name)
        names.append(name)
    return names


def _beer_ids(rng: np.random.Generator, p: dict, brewery_of: list[int]) -> list[int]:
    bases = {b: int(10 ** float(_draw(rng, p, p["beer_id"]["log10"], 1)[0])) for b in sorted(set(brewery_of))}
    ids, seen = [], set()
    for brewery in brewery_of:
        beer_id = bases[brewery] + int(rng.integers(0, 400))
        while beer_id in seen:
            beer_id += 1
        seen.add(beer_id)
        ids.append(beer_id)
    return ids


def _styles(rng: np.random.Generator, p: dict, n_beers: int) -> list[str]:
    s = p["styles"]
    count = max(1, min(s["count"], n_beers))
    heads = [_words(rng, int(rng.integers(4, 10))) for _ in range(max(1, s["first_words"] * count // s["count"]))]
    names: list[str] = []
    for i, length in enumerate(_draw(rng, p, s["len"], count)):
        head = heads[i] if i < len(heads) else heads[int(rng.integers(len(heads)))]
        rest = round(float(length)) - len(head) - 1
        name = head if rest < 2 else f"{head} {_words(rng, rest)}"
        while name in names:
            name += f" {_words(rng, 3)}"
        names.append(name)
    weights = _draw(rng, p, s["beers_per_style"], count)
    return [names[i] for i in rng.choice(count, size=n_beers, p=weights / weights.sum())]


def _reviewers(rng: np.random.Generator, p: dict, count: int) -> tuple[list[str], np.ndarray]:
    r = p["reviewers"]
    names, seen = [], set()
    for length in _draw(rng, p, r["len"], count):
        while True:
            size = max(1, round(float(length)))
            digits = int(rng.integers(1, 4)) if rng.random() < r["has_digit"] and size > 3 else 0
            text = "".join(rng.choice(_LETTERS, size - digits)) + "".join(str(d) for d in rng.integers(0, 10, digits))
            if rng.random() < r["upper_first"]:
                text = text[0].upper() + text[1:]
            if text not in seen:
                break
            length += 1
        seen.add(text)
        names.append(text)
    return names, _draw(rng, p, r["rows_per_reviewer"], count, log=True)


def _times(
    rng: np.random.Generator, p: dict, n_beers: int, beer_of_row: np.ndarray, reviewer_of_row: np.ndarray
) -> np.ndarray:
    d = p["days"]
    centres = _draw(rng, p, d["beer_centre"], n_beers)
    spreads = _draw(rng, p, d["beer_spread"], n_beers)
    days = centres[beer_of_row] + spreads[beer_of_row] * rng.standard_normal(len(beer_of_row))
    days = np.clip(np.rint(days), d["beer_centre"][0], d["beer_centre"][-1]).astype(np.int64)
    earlier: dict[int, list[int]] = {}
    same_day = rng.random(len(days)) < d["reviewer_same_day"]
    for row, reviewer in enumerate(reviewer_of_row.tolist()):  # a reviewing session: several beers, one day
        past = earlier.setdefault(reviewer, [])
        if past and same_day[row]:
            days[row] = past[int(rng.integers(len(past)))]
        past.append(int(days[row]))
    return days * DAY


def _ratings(rng: np.random.Generator, p: dict, n_beers: int, beer_of_row: np.ndarray) -> dict[str, list[str]]:
    """Gaussian copula: z = sqrt(s) * beer effect + sqrt(1 - s) * correlated noise, mapped to marginals."""
    spec = p["ratings"]
    share = np.asarray(spec["beer_share"])
    total = np.asarray(spec["correlation"])
    beer_part = np.sqrt(np.outer(share, share))
    residual = (total - beer_part) / np.sqrt(np.outer(1 - share, 1 - share))
    np.fill_diagonal(residual, 1.0)
    eigenvalues, vectors = np.linalg.eigh(residual)
    root = vectors @ np.diag(np.sqrt(np.clip(eigenvalues, 1e-6, None)))
    effect = rng.standard_normal(n_beers)[beer_of_row]
    noise = rng.standard_normal((len(beer_of_row), len(share))) @ root.T
    z = np.sqrt(share) * effect[:, None] + np.sqrt(1 - share) * noise
    out = {}
    for j, column in enumerate(spec["columns"]):
        values = [v for v, _ in spec["marginals"][column]]
        edges = np.cumsum([w for _, w in spec["marginals"][column]])
        u = np.array([0.5 * (1 + math.erf(x / math.sqrt(2))) for x in z[:, j]]) * edges[-1]
        out[column] = [values[i] for i in np.minimum(np.searchsorted(edges, u), len(values) - 1)]
    return out
