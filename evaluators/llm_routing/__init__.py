"""Trusted side of the llm_routing problem: cache- and load-aware request routing (DualMap, SkyWalker).

workload.py draws the traces, stages.py fixes the cluster layouts and each stage's traces,
cluster.py is the simulator (on the shared evaluators.llm_serving instance model), views.py what
the policy sees, episode.py the candidate-side run, replay.py the trusted replay of an answer
log, probe.py the causality twin, scoring.py and anchors.py the score, evaluation.py the flow.
"""
