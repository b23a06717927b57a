"""Score = the program's true quality + seeded Gaussian noise of standard deviation SIGMA.

The k-th scoring of a program text at a stage draws from Random(f"{stage}:{sha256(text)}:{k}"),
k counted in noise_state/ beside this file, so a run's noise is reproducible and tests can
compute the draws in advance (`draw`).
"""

import fcntl
import hashlib
import os
import random
from pathlib import Path

from adrs.problemkit import INVALID_OUTPUT, CandidateError, run_candidate

DRIVER = Path(__file__).with_name("driver.py")
STATE = Path(__file__).with_name("noise_state")
SIGMA = 1.0


def draw(stage: str, code: str, k: int) -> float:
    digest = hashlib.sha256(code.encode()).hexdigest()
    return random.Random(f"{stage}:{digest}:{k}").gauss(0.0, SIGMA)


def _next_index(stage: str, code: str) -> int:
    STATE.mkdir(exist_ok=True)
    path = STATE / f"{stage}-{hashlib.sha256(code.encode()).hexdigest()[:16]}"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        k = int(os.read(fd, 32) or b"0")
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, str(k + 1).encode())
        return k
    finally:
        os.close(fd)


def evaluate(program_path, *, stage="full", workdir=None):
    value = run_candidate(program_path, DRIVER, {}, workdir=workdir).raise_for_failure()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CandidateError(INVALID_OUTPUT, f"quality() returned {type(value).__name__}, expected a number")
    code = Path(program_path).read_text()
    noise = draw(stage, code, _next_index(stage, code))
    return {"score": float(value) + noise, "metrics": {"quality": float(value)}}
