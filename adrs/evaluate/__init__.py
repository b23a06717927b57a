"""Engine side of an evaluation: the runner (one stage, and the cascade), the worker, the result.

- runner.py  spawns one trusted worker process per stage, enforces the stage's deadline, reads its
             token-tagged frame; runs the stages in order (the cascade)
- worker.py  the trusted worker process (`python -I -m adrs.evaluate.worker`): calls the problem's
             evaluator on one program for one stage
- driver_check.py  verifies a driver fault claimed from inside a candidate's process by evaluating
             the problem's initial program on the same stage (at most once per stage and process)
- result.py  turns an evaluator's answer into an `Evaluation` record

Problem authors use adrs.problemkit, not this package; sandbox backends live in adrs.sandbox and
the code that runs inside a candidate's process in adrs.candidate.
Must not: import anything here at package import (the worker imports this package on every stage).
"""
