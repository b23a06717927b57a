"""The LLM mutator: proposals from models on OpenAI-compatible endpoints.

source.py runs one proposal end to end (`LLMSource`, `MixedSource`, `build_llm_source`);
models.py reads the `[llm]` settings, bandit.py chooses a model, prompts.py (with templates/)
assembles the prompt from history.py's lineage attempts, pool.py calls the endpoints with
deadlines and retries, cost.py keeps the cost cap, calls.py stores each call in the archive.

Importing this package imports nothing: adrs.api loads source.py (and the openai client) only
for runs that use a model.

Must not: evaluate programs, or store programs (the engine does).
"""
