"""No combined_score; `speed` is a MAP-Elites dimension in config.yaml, so OpenEvolve leaves it out of the fitness."""

import importlib.util

REQUESTS = [1, 2, 3, 1, 4, 1, 2, 5, 1, 2, 3, 6, 1, 2]


def evaluate(program_path):
    spec = importlib.util.spec_from_file_location("candidate", program_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    size = int(module.cache_size())
    cache, hits = [], 0
    for key in REQUESTS:
        if key in cache:
            hits += 1
            cache.remove(key)
        elif len(cache) >= size:
            cache.pop(0)
        cache.append(key)
    return {
        "hit_rate": hits / len(REQUESTS),
        "compactness": 1.0 / size,
        "speed": 1.0 / (1.0 + 0.1 * size),
        "fits_budget": size <= 8,
        "status": f"{hits} hits with {size} slots",
    }
