"""Trusted pieces of the telemetry-repair problem: snapshots, scenarios, synthetic networks, scoring."""
