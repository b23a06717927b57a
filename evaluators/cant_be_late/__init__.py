"""Single-region Can't-Be-Late: spot/on-demand scheduling of one job with a deadline.

Modules: rules (constants, guard, score), strategy (what a policy sees; imported by candidates),
compat (sky_spot aliases so leaderboard programs run unchanged),
episode (the in-process simulator the driver runs), real_traces / synthetic / workload (what each
stage simulates), feed (the tick-by-tick sessions), logs / replay / report (the trusted side),
evaluation (one stage end to end), fit_synthetic (run once to fit synthetic_params.json).

Imports nothing here: candidate processes import `evaluators.cant_be_late.strategy` and should not
pay for numpy or the trusted modules.
"""
