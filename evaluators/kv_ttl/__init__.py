"""Trusted side of the kv_ttl problem: KV-cache time-to-live for multi-turn agents (Continuum).

workload.py draws the agent programs, stages.py fixes the instances and each stage's traces,
engine.py is the simulator (on the shared evaluators.llm_serving instance model), views.py what
the policy sees, episode.py the candidate-side mirror of one trace (one question per message),
scoring.py and anchors.py the score, evaluation.py the flow (the trusted run, asking over a session).
"""
