"""Trusted pieces of the LLM-SQL problem: tables, layout plans, the prefix hit rate, synthetic tables."""
