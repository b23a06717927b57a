"""Fit the synthetic-table parameters to beer.csv once; writes beer_params.json beside this file.

Run: python -m evaluators.llm_sql.fit_beer /path/to/beer.csv

Owns: measuring the statistics that synth.py reproduces: how many beers, breweries, styles and
reviewers there are and how unevenly rows spread over them (size quantiles), text lengths, how
beer names share brewery prefixes, the beer id digits, review days (per beer centre and spread,
and how often a reviewer reviews several beers on one day), and the four ratings as a Gaussian
copula (marginals, correlation, the share of variance explained by the beer). Only summary numbers
are stored, never values from the file.

Must not: be imported by evaluators at run time (the JSON it writes is what they read).
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

PARAMS = Path(__file__).with_name("beer_params.json")
PROBS = [0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 1.0]
RATINGS = ["review/overall", "review/taste", "review/palate", "review/appearance"]
DAY = 86400


def quantiles(values) -> list[float]:
    return [round(float(q), 4) for q in np.quantile(np.asarray(values, dtype=float), PROBS)]


def normal_scores(values: list[str], order: list[str]) -> np.ndarray:
    """Mid-rank normal scores of an ordinal column (ties share the mid quantile of their band)."""
    from statistics import NormalDist

    counts = Counter(values)
    total = len(values)
    score, below = {}, 0
    for v in order:
        mid = (below + counts[v] / 2) / total
        score[v] = NormalDist().inv_cdf(min(max(mid, 1e-6), 1 - 1e-6))
        below += counts[v]
    return np.array([score[v] for v in values])


def rating_order(values) -> list[str]:
    return sorted(set(values), key=lambda v: float(v.split("/")[0]) / float(v.split("/")[1]))


def brewery_split(names: list[str]) -> tuple[list[int], list[int], list[int]]:
    """Group sorted distinct names by first word; brewery prefix = the group's common leading words."""
    groups: dict[str, list[str]] = defaultdict(list)
    for name in sorted(set(names)):
        groups[name.split(" ")[0]].append(name)
    sizes, prefix_lens, suffix_lens = [], [], []
    for members in groups.values():
        words = [m.split(" ") for m in members]
        shared = 0
        while all(len(w) > shared + 1 for w in words) and len({tuple(w[: shared + 1]) for w in words}) == 1:
            shared += 1
        shared = max(shared, 1)
        prefix = " ".join(words[0][:shared])
        sizes.append(len(members))
        prefix_lens.append(len(prefix))
        suffix_lens.extend(max(len(m) - len(prefix) - 1, 1) for m in members)
    return sizes, prefix_lens, suffix_lens


def fit(path: Path) -> dict:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = [r for r in reader if r]
    col = {c: i for i, c in enumerate(header)}
    beer = [r[col["beer/beerId"]] for r in rows]
    beer_rows = Counter(beer)
    first = {}
    for r in rows:
        first.setdefault(r[col["beer/beerId"]], r)
    names = [first[b][col["beer/name"]] for b in beer_rows]
    styles = [first[b][col["beer/style"]] for b in beer_rows]
    reviewers = Counter(r[col["review/profileName"]] for r in rows)
    sizes, prefix_lens, suffix_lens = brewery_split(names)
    style_count = Counter(styles)
    days = defaultdict(list)
    for r in rows:
        days[r[col["beer/beerId"]]].append(int(r[col["review/time"]]) // DAY)
    centres = [float(np.median(d)) for d in days.values()]
    spreads = [float(np.std(d)) for d in days.values() if len(d) > 1]
    reviewer_names = list(reviewers)
    seen_days: dict[str, set[int]] = defaultdict(set)
    repeats = again = 0
    for r in rows:  # how often a reviewer's later review falls on a day they already reviewed on
        who, day = r[col["review/profileName"]], int(r[col["review/time"]]) // DAY
        if seen_days[who]:
            repeats += 1
            again += day in seen_days[who]
        seen_days[who].add(day)

    scores = np.column_stack(
        [normal_scores([r[col[c]] for r in rows], rating_order([r[col[c]] for r in rows])) for c in RATINGS]
    )
    beer_index = {b: i for i, b in enumerate(beer_rows)}
    members = np.array([beer_index[b] for b in beer])
    shares = []
    for j in range(len(RATINGS)):
        means = np.bincount(members, weights=scores[:, j]) / np.bincount(members)
        shares.append(float(np.var(means[members]) / np.var(scores[:, j])))
    marginals = {}
    for c in RATINGS:
        counts = Counter(r[col[c]] for r in rows)
        marginals[c] = [[v, round(counts[v] / len(rows), 6)] for v in rating_order(list(counts))]

    return {
        "source": {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "rows": len(rows)},
        "columns": header,
        "probs": PROBS,
        "beers": {"count": len(beer_rows), "rows_per_beer": quantiles(list(beer_rows.values()))},
        "breweries": {
            "count": len(sizes),
            "beers_per_brewery": quantiles(sizes),
            "prefix_len": quantiles(prefix_lens),
            "suffix_len": quantiles(suffix_lens),
        },
        "beer_id": {"log10": quantiles([np.log10(int(b)) for b in beer_rows])},
        "styles": {
            "count": len(style_count),
            "beers_per_style": quantiles(list(style_count.values())),
            "len": quantiles([len(s) for s in style_count]),
            "first_words": len({s.split(" ")[0] for s in style_count}),
        },
        "reviewers": {
            "count": len(reviewers),
            "rows_per_reviewer": quantiles(list(reviewers.values())),
            "len": quantiles([len(n) for n in reviewer_names]),
            "upper_first": round(sum(n[:1].isupper() for n in reviewer_names) / len(reviewer_names), 4),
            "has_digit": round(sum(any(ch.isdigit() for ch in n) for n in reviewer_names) / len(reviewer_names), 4),
        },
        "days": {
            "beer_centre": quantiles(centres),
            "beer_spread": quantiles(spreads),
            "reviewer_same_day": round(again / repeats, 4),
        },
        "ratings": {
            "columns": RATINGS,
            "marginals": marginals,
            "correlation": [[round(float(x), 4) for x in row] for row in np.corrcoef(scores, rowvar=False)],
            "beer_share": [round(s, 4) for s in shares],
        },
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m evaluators.llm_sql.fit_beer BEER_CSV", file=sys.stderr)
        return 2
    params = fit(Path(argv[0]))
    PARAMS.write_text(json.dumps(params, indent=1) + "\n")
    print(f"wrote {PARAMS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
