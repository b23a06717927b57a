"""Choosing a model for each proposal: fixed weights, or a UCB bandit over what each model's children bring.

Owns: per-model statistics (proposals, summed reward, dollars, improving children), the choice
rule, and their JSON form, which the LLM source stores in the archive's `state` table after every
change, so a resumed run continues with what it learned. Statistics are keyed by model label:
when a resumed run has a different model list, known models keep their numbers, new ones start
fresh (and are tried first), and removed ones are kept in the state but no longer chosen.

The reward of a proposal is how much its child improved on its parent's score (0 for a child that
scored lower, failed, or never came to be: a model whose replies do not apply earns nothing).
Rewards are scaled by the largest improvement seen so far so the exploration term stays
meaningful whatever the problem's score range. With `improvement_per_dollar`, a model's value is
its reward per dollar, scaled by the best such value among the models.

Must not: call endpoints, read the archive, or use any randomness but the rng it is given.
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass

from adrs.mutate.llm.models import LLMSettings, ModelSpec

STATE_KEY = "llm.bandit"
_MIN_COST = 1e-6  # dollars per proposal assumed for free (local) models in per-dollar values


@dataclass
class ModelStats:
    proposals: int = 0
    reward: float = 0.0
    cost: float = 0.0
    improved: int = 0  # children that beat their parent


class ModelChooser:
    def __init__(self, settings: LLMSettings, state: dict | None = None):
        self.settings = settings
        state = state or {}
        self.stats: dict[str, ModelStats] = {
            label: ModelStats(**values) for label, values in state.get("models", {}).items() if isinstance(values, dict)
        }
        for model in settings.models:
            self.stats.setdefault(model.label, ModelStats())
        self.scale = float(state.get("scale", 0.0))  # the largest improvement seen

    def choose(self, rng: random.Random) -> ModelSpec:
        """Pick a model and count the proposal against it."""
        models = self.settings.models
        if self.settings.selection == "bandit":
            model = self._ucb(models, rng)
        else:
            model = rng.choices(models, weights=[m.weight for m in models], k=1)[0]
        self.stats[model.label].proposals += 1
        return model

    def _ucb(self, models: tuple[ModelSpec, ...], rng: random.Random) -> ModelSpec:
        untried = [m for m in models if self.stats[m.label].proposals == 0]
        if untried:
            return untried[0]  # config order: the first listed model is tried first
        total = sum(self.stats[m.label].proposals for m in models)
        values = {m.label: self._value(m.label) for m in models}
        top_value = max(values.values())
        scores = []
        for model in models:
            stats = self.stats[model.label]
            value = values[model.label] / top_value if top_value > 0 else 0.0
            bonus = self.settings.exploration * math.sqrt(2.0 * math.log(total) / stats.proposals)
            scores.append(value + bonus)
        best = max(scores)
        tied = [m for m, s in zip(models, scores, strict=True) if s >= best - 1e-12]
        return tied[0] if len(tied) == 1 else rng.choice(tied)

    def _value(self, label: str) -> float:
        stats = self.stats[label]
        if self.settings.bandit_reward == "improvement_per_dollar":
            return stats.reward / max(stats.cost, _MIN_COST * stats.proposals)
        return stats.reward / stats.proposals

    def record_cost(self, label: str, dollars: float) -> None:
        self.stats.setdefault(label, ModelStats()).cost += dollars

    def record_child(self, label: str, improvement: float) -> None:
        """A child of `label` was evaluated: credit max(0, improvement), scaled to the largest seen."""
        gain = max(0.0, improvement)
        stats = self.stats.setdefault(label, ModelStats())
        if gain > 0:
            stats.improved += 1
        if gain > self.scale:
            # rescale past rewards so every reward stays a fraction of the largest improvement seen
            factor = self.scale / gain if self.scale > 0 else 0.0
            for other in self.stats.values():
                other.reward *= factor
            self.scale = gain
        stats.reward += gain / self.scale if self.scale > 0 else 0.0

    def to_state(self) -> dict:
        return {"models": {label: asdict(s) for label, s in self.stats.items()}, "scale": self.scale}
