"""Place LLMs on GPUs so that the worst GPU's KV-cache pressure is as low as possible.

compute_model_placement(gpu_num, models) -> {gpu_id: [model objects]}: every model object exactly
once, GPU ids in range(gpu_num), at most 80 GB of model_size per GPU. Each model has model_name,
model_size (GB), req_rate, slo and cur_gpu_id. A GPU's pressure is sum(req_rate / slo) divided by
its free memory (80 - sum(model_size)). Starting point: Prism's Algorithm 1 greedy (without the
tau check).
"""

GPU_MEM_SIZE = 80  # GB per GPU

# EVOLVE-BLOCK-START


def compute_model_placement(gpu_num, models):
    """Greedy: hottest models first, each onto the GPU with the lowest current pressure that fits."""
    # Sort by weighted request rate r/s, highest first (stable, so ties keep input order).
    ordered = sorted(models, key=lambda m: m.req_rate / m.slo, reverse=True)
    placement = {gpu_id: [] for gpu_id in range(gpu_num)}
    free_memory = [GPU_MEM_SIZE] * gpu_num
    weighted_rate = [0.0] * gpu_num

    for model in ordered:
        best_gpu = None
        best_pressure = float("inf")
        for gpu_id in range(gpu_num):
            if free_memory[gpu_id] > 0 and model.model_size <= free_memory[gpu_id]:
                pressure = weighted_rate[gpu_id] / free_memory[gpu_id]
                if pressure < best_pressure:  # strict: the lowest id wins ties
                    best_pressure = pressure
                    best_gpu = gpu_id
        if best_gpu is None:
            raise ValueError(f"no GPU has room for {model.model_name} ({model.model_size} GB); free: {free_memory}")
        placement[best_gpu].append(model)
        weighted_rate[best_gpu] += model.req_rate / model.slo
        free_memory[best_gpu] -= model.model_size

    return placement


# EVOLVE-BLOCK-END
