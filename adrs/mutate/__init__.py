"""Mutators: turn a parent program (plus inspirations) into a proposed child program.

base.py is the interface the engine talks to (`ProposalSource`, `ProposalContext`, `Proposal`);
offline/ holds the built-in offline mutator (AST-level edits, deterministic given the rng), llm/
the LLM mutator (prompts, endpoints, model choice, cost). Must not: evaluate or archive anything.
"""
