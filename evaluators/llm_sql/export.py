"""How an exported llm_sql policy plugs into an LLM batch-query pipeline: the recipe adrs export
reads (adrs/export_bundle.py), and the leaderboard module names its programs import.

Constants only. USAGE is markdown in which $module names the exported module. PEER_MODULES maps
a leaderboard module name to (module here, {name there: name here}).
"""

HOST = "an LLM batch-query pipeline over a table (prompt prefix caching, GGR-style)"

EXAMPLE = "evaluators.llm_sql.export_example"

PEER_MODULES = {
    "solver": ("evaluators.llm_sql.peer_helpers", {"Algorithm": "Algorithm", "Trie": "Trie", "pd": "pd"}),
    "utils": (
        "evaluators.llm_sql.peer_helpers",
        {
            "Trie": "Trie",
            "TrieNode": "TrieNode",
            "calculate_length": "calculate_length",
            "evaluate_df_prefix_hit_cnt": "evaluate_df_prefix_hit_cnt",
            "pd": "pd",
        },
    ),
}

USAGE = """\
The policy lays a table out for prompt caching: each row becomes one prompt (its cells
concatenated in the row's field order), prompts are sent in row order, and consecutive prompts
that share long prefixes hit the LLM server's prefix (KV) cache.

A program written for adrs defines `$module.solve(columns, rows, col_merge, **knobs)` and returns
`[(row_index, field_order), ...]`; a program written for the public leaderboard defines
`$module.Solution().solve(df, ...)` and returns the reordered pandas DataFrame. Build the prompts
in the order it gives:

```python
import sys
sys.path.insert(0, "/path/to/this/folder")
import $module

plan = $module.solve(columns, rows, [["beer/beerId", "beer/name"]],
                     early_stop=100_000, row_stop=4, col_stop=2, distinct_value_threshold=0.7)
prompts = ["".join(rows[r][c] for c in fields) for r, fields in plan]
answers = [llm(instruction + prompt) for prompt in prompts]       # your serving client
```

`rows` are cell texts; `col_merge` lists column groups that must stay adjacent (one field)."""
