"""Baseline: run jobs in arrival order."""


def order_jobs(jobs):
    return list(range(len(jobs)))
