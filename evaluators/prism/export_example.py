"""Runs an exported prism policy as a serving controller would (written by adrs export as <stem>_example.py).

Eight models with random sizes, request rates and SLOs are placed on four 80 GB GPUs; the example
checks the placement (every model exactly once, memory within each GPU) and prints each GPU's
KV-cache pressure, sum(req_rate / slo) / free memory.
"""

import importlib
import random
from types import SimpleNamespace

POLICY_MODULE = "initial"
GPUS, GPU_MEMORY_GB = 4, 80


def main() -> None:
    policy = importlib.import_module(POLICY_MODULE)
    rng = random.Random(0)
    models = [
        SimpleNamespace(
            model_name=f"model_{i}",
            model_size=rng.randint(8, 30),
            req_rate=rng.randint(1, 20),
            slo=rng.randint(1, 10),
            cur_gpu_id=i % GPUS,
        )
        for i in range(8)
    ]
    placement = policy.compute_model_placement(GPUS, list(models))
    placed = [m for ms in placement.values() for m in ms]
    assert sorted(map(id, placed)) == sorted(map(id, models)), "every model must be placed exactly once"
    for gpu, ms in sorted(placement.items()):
        used = sum(m.model_size for m in ms)
        assert 0 <= gpu < GPUS and used <= GPU_MEMORY_GB, f"GPU {gpu} holds {used} GB"
        pressure = sum(m.req_rate / m.slo for m in ms) / (GPU_MEMORY_GB - used)
        print(f"GPU {gpu}: {', '.join(m.model_name for m in ms) or '-'}  (KV pressure {pressure:.3f})")


if __name__ == "__main__":
    main()
