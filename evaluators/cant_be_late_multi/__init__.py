"""Multi-region spot scheduling with a deadline (the cant_be_late_multi problem).

Modules: `model` (records and constants), `machine` (the tick rules), `api` (what a candidate
policy imports), `candidate_sim` (runs a policy inside the candidate process, one tick per
message, and logs its actions), `feed` (the trusted side of those sessions), `replay` (trusted
re-execution of an action log), `traces` / `synthetic` (workloads),
`scenarios` (what each stage simulates), `scoring` (costs to a 0-100 score), `compat` (ports
leaderboard programs). The trusted side never imports `api` or `candidate_sim` results as code:
it only reads back JSON.
"""
