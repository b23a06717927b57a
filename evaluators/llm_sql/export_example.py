"""Runs an exported llm_sql policy on a small table (written by adrs export as <stem>_example.py).

A 200-row table of reviews with repeated values; the example builds the prompts in the order the
policy gives (a plan of row and field indices, or, for a leaderboard program, the DataFrame it
returns), checks that every row appears once, and prints the prefix hit rate against the file
order's.
"""

import importlib
import io
import random

from evaluators.llm_sql.hitrate import hit_rate

POLICY_MODULE = "initial"
COLUMNS = ["reviewer", "rating", "style", "beer/beerId", "beer/name"]
MERGE = [["beer/beerId", "beer/name"]]
KNOBS = {"early_stop": 100_000, "row_stop": 4, "col_stop": 2, "distinct_value_threshold": 0.7}


def table(rows: int = 200) -> list[list[str]]:
    rng = random.Random(0)
    beers = [(str(1000 + i), f"Brewery {i % 4} Ale number {i}") for i in range(12)]
    styles = ["Pale Ale", "Imperial Stout", "Pilsner"]
    out = []
    for _ in range(rows):
        beer_id, name = rng.choice(beers)
        out.append(
            [f"reviewer{rng.randint(1, 40)}", str(rng.choice([3.5, 4.0, 4.5])), rng.choice(styles), beer_id, name]
        )
    return out


def main() -> None:
    policy = importlib.import_module(POLICY_MODULE)
    rows = table()
    baseline = hit_rate(["".join(row) for row in rows])
    if callable(getattr(policy, "solve", None)):
        plan = policy.solve(COLUMNS, [list(r) for r in rows], [list(g) for g in MERGE], **KNOBS)
        assert sorted(int(r) for r, _ in plan) == list(range(len(rows))), "every row must appear once"
        prompts = ["".join(rows[int(r)][int(c)] for c in fields) for r, fields in plan]
    else:  # a leaderboard program: Solution().solve(DataFrame) -> DataFrame
        pd = importlib.import_module("pandas")
        csv = "\n".join([",".join(COLUMNS)] + [",".join(r) for r in rows])
        frame = pd.read_csv(io.StringIO(csv))
        result = policy.Solution().solve(frame, col_merge=MERGE, one_way_dep=[], parallel=False, **KNOBS)
        assert len(result) == len(rows), "every row must appear once"
        prompts = ["".join(r.fillna("").astype(str).values) for _, r in result.iterrows()]
    print(f"prefix hit rate {hit_rate(prompts):.1%} (file order {baseline:.1%}) over {len(rows)} prompts")


if __name__ == "__main__":
    main()
