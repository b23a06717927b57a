"""Trusted side of the llm_routing problem: cache- and load-aware request routing (DualMap, SkyWalker).

workload.py draws the traces, stages.py fixes the cluster layouts and each stage's traces,
cluster.py is the simulator (on the shared evaluators.llm_serving instance model), views.py what
the policy sees, episode.py the candidate-side mirror of one trace (one question per message),
scoring.py and anchors.py the score, evaluation.py the flow (the trusted run, asking over a session).
"""
