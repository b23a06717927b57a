"""Trusted glue run inside the candidate's process: the program's quality, as JSON."""


def run(candidate, payload):
    return float(candidate.quality())
