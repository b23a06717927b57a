"""Trusted workload and scoring of the sparse_attention problem (problems/sparse_attention).

Owns the decode-attention cases, synthetic or from real dumps, and the candidate's view of them
(workload.py), and the validation and scoring of an untrusted key selection against dense
attention (scoring.py). Needs torch. Must not run candidate code: problems/sparse_attention/evaluator.py
does that through the trusted harness and hands the untrusted selections here.
"""
