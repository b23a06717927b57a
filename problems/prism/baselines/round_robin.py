"""Round robin: model j on GPU j mod gpu_num, in the given order. The 0-point reference of prism."""


def compute_model_placement(gpu_num, models):
    placement = {gpu_id: [] for gpu_id in range(gpu_num)}
    for j, model in enumerate(models):
        placement[j % gpu_num].append(model)
    return placement
