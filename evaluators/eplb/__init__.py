"""eplb (MoE expert-parallel load balancing): trusted trace generation, validation, balancedness,
timing and scoring. The problem directory is problems/eplb; its evaluator wires these together."""
