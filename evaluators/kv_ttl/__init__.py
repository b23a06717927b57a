"""Trusted side of the kv_ttl problem: KV-cache time-to-live for multi-turn agents (Continuum).

workload.py draws the agent programs, stages.py fixes the instances and each stage's traces,
engine.py is the simulator (on the shared evaluators.llm_serving instance model), views.py what
the policy sees, episode.py the candidate-side run, replay.py the trusted replay of an answer
log, probe.py the causality twin, scoring.py and anchors.py the score, evaluation.py the flow.
"""
