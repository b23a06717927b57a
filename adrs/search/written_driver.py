"""The trusted driver of a written selection strategy (adrs/search/written.py), run in the sandbox.

The candidate harness (adrs/problemkit/harness.py) loads this file beside the strategy the model
wrote, as a problem's driver beside a candidate, and calls `run(strategy_module, payload)`: the
strategy's `select(programs, context)` answers weights for some of the programs it was given, and
this turns them into JSON ({"program id": weight}). It shares the strategy's process, so what it
returns is untrusted: adrs/search/written_run.py validates every entry before anything is drawn.

Standalone: imports nothing (the runner loads it inside the sandbox). Must not: read files, or
accept an answer it cannot convert (it raises, and the strategy's run is a failure).
"""


def run(strategy, payload):
    select = getattr(strategy, "select", None)
    if not callable(select):
        raise TypeError("the strategy defines no function select(programs, context)")
    answer = select(payload["programs"], payload["context"])
    if isinstance(answer, dict):
        pairs = list(answer.items())
    elif isinstance(answer, list | tuple):
        pairs = [tuple(pair) for pair in answer]
    else:
        raise TypeError(f"select() must return a dict {{program id: weight}}, not {type(answer).__name__}")
    return {str(int(key)): float(weight) for key, weight in pairs}
