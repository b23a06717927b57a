"""adrs: an evolutionary engine for AI-driven systems research."""

__version__ = "0.1.0"
