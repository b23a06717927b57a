"""Trusted glue run inside the candidate's sandboxed process: call the policy, return JSON."""


def run(candidate, payload):
    return [list(candidate.order_jobs([tuple(job) for job in instance])) for instance in payload["instances"]]
