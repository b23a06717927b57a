"""Stand-in for `openevolve.evaluation_result.EvaluationResult`: metrics plus text artifacts.

Written from OpenEvolve's documented contract: an evaluator returns either a dict of metrics or
`EvaluationResult(metrics=..., artifacts=...)`, where artifacts are text (or bytes) the LLM sees.
Must not: grow behaviour an evaluator could depend on beyond that contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class EvaluationResult:
    metrics: dict[str, Any]
    artifacts: dict[str, str | bytes] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, metrics: dict[str, Any]) -> EvaluationResult:
        return cls(metrics=metrics)

    def to_dict(self) -> dict[str, Any]:
        return self.metrics

    def has_artifacts(self) -> bool:
        return bool(self.artifacts)

    def get_artifact_keys(self) -> list[str]:
        return list(self.artifacts)
