"""The adaptive search (`--selection adaptive`, issue 20): where the next proposal goes, and how.

adaptive.py is the controller the engine calls; signal.py the per-island improvement signal and
exploration intensity; bandit.py the island bandit; parents.py the parent draw for an intensity;
focus.py the lines of a parent's last gain; paradigms.py the breakthrough approaches of a stalled
LLM run; config.py the settings (`AdaptiveConfig`). Nothing is imported here: adrs/config.py and
adrs/archive/select.py import single modules, and importing the controller from this file would
make them circular.

Must not: evaluate programs, call models, or talk SQL (state goes through Archive methods).
"""
