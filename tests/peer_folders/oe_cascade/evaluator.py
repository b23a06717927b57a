"""Three cascade stages of growing size; quality is the optimal total completion time over the program's."""

import importlib.util

SMALL = [4, 1, 3, 2]
MEDIUM = [5, 9, 2, 7, 1, 3]
LARGE = [8, 3, 6, 1, 9, 2, 7, 4]


def _quality(program_path, durations):
    spec = importlib.util.spec_from_file_location("candidate", program_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    chosen = list(module.order(list(durations)))
    if sorted(chosen) != list(range(len(durations))):
        raise ValueError(f"not a permutation: {chosen}")
    return _total(durations, sorted(range(len(durations)), key=lambda i: durations[i])) / _total(durations, chosen)


def _total(durations, sequence):
    clock = total = 0
    for index in sequence:
        clock += durations[index]
        total += clock
    return total


def evaluate_stage1(program_path):
    return {"quality_small": _quality(program_path, SMALL), "checked": True}


def evaluate_stage2(program_path):
    quality = _quality(program_path, MEDIUM)
    return {"combined_score": quality, "quality_medium": quality}


def evaluate_stage3(program_path):
    return {"combined_score": _quality(program_path, LARGE), "error": "none"}


def evaluate(program_path):
    return evaluate_stage3(program_path)
