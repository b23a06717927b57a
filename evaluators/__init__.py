"""Shared trusted verifiers that problem evaluators import: simulators, scorers, validators."""
