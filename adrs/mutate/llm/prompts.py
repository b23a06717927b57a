"""Prompt assembly for LLM mutation, within a token budget.

Owns: loading the prompt templates (the defaults in adrs/mutate/llm/templates/, each replaceable by a
file of the same name in the problem's `prompts/` folder: system.txt, user.txt, format_diff.txt,
format_rewrite.txt), and filling them: the problem's description, objectives and `[prompt] system`
text; the parent's code with its metrics, feedback and failure text; inspirations (their evolvable
code and scores); the lineage's recent attempts and how they ended; the adaptive search's
direction for this attempt (`$guidance`: explore or refine, a stall, a breakthrough approach to
follow; put before the task when a problem's own user.txt has no `$guidance`); the hints of the
person steering the run (`adrs serve --steer`), at the head of the task, so every template carries
them (never cut to fit the budget: the archive caps each one's length); the output-format
instructions, with the reason the last reply for this parent could not be used and the parent's
latest edits already in the archive, its children and the answers that duplicated a known program
(at most `llm.duplicates_shown`, one line each by the first changed line: "already tried, propose
something different").

Templates use `$name` placeholders (string.Template), so braces in code need no escaping; an
unknown `$word` in a template is left as it is. When the prompt is over budget, the feedback is cut
first, then inspirations are dropped (the last, most diverse, first), then older attempts.

Must not: call models, apply edits, or write to the archive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from string import Template

from adrs.archive.store import ProgramRecord
from adrs.evaluate.result import Evaluation
from adrs.mutate.llm.history import Attempt
from adrs.mutate.llm.pool import estimate_tokens
from adrs.problem import Problem
from adrs.program import START_MARKER, MarkerError, find_regions, split_lines

TEMPLATE_NAMES = ("system.txt", "user.txt", "format_diff.txt", "format_rewrite.txt")
DEFAULT_TEMPLATES = Path(__file__).with_name("templates")
_MIN_FEEDBACK_CHARS = 200  # below this, feedback is dropped rather than cut


@dataclass(frozen=True)
class Prompt:
    system: str
    user: str
    truncated: tuple[str, ...] = ()  # what was cut to fit the budget

    @property
    def messages(self) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.system}, {"role": "user", "content": self.user}]

    @property
    def tokens(self) -> int:
        return estimate_tokens(self.system) + estimate_tokens(self.user)

    def as_text(self) -> str:
        """How the archive stores it (llm_calls.prompt)."""
        return f"### system\n{self.system}\n### user\n{self.user}"


@dataclass
class PromptInputs:
    parent: ProgramRecord
    evaluations: list[Evaluation]
    inspirations: list[ProgramRecord]
    attempts: list[Attempt]
    edit_format: str  # diff | rewrite
    last_failure: Attempt | None = None
    notes: list[str] = field(default_factory=list)
    guidance: str = ""  # from the adaptive search: the sampling mode, a stall, a breakthrough approach
    hints: tuple[str, ...] = ()  # from the person steering the run, oldest first
    tried: list[Attempt] = field(default_factory=list)  # the parent's newest edits already in the archive


def load_templates(problem: Problem) -> dict[str, str]:
    """The default templates, each overridden by problems/<name>/prompts/<file> where present."""
    templates = {}
    for name in TEMPLATE_NAMES:
        override = problem.root / "prompts" / name
        path = override if override.is_file() else DEFAULT_TEMPLATES / name
        templates[name] = path.read_text()
    return templates


class PromptBuilder:
    def __init__(self, problem: Problem, max_tokens: int):
        self.problem = problem
        self.max_tokens = max_tokens
        self.templates = load_templates(problem)

    def build(self, inputs: PromptInputs) -> Prompt:
        feedback = _feedback_text(inputs.evaluations)
        inspirations = list(inputs.inspirations)
        attempts = list(inputs.attempts)
        cut: list[str] = []
        prompt = self._render(inputs, feedback, inspirations, attempts)
        over = prompt.tokens - self.max_tokens
        if over > 0 and feedback:
            keep = len(feedback) - int(over * 3.5) - 80
            if keep >= _MIN_FEEDBACK_CHARS:
                feedback = (
                    feedback[:keep]
                    + f"\n[... feedback cut to fit the prompt budget: {len(feedback) - keep} characters omitted]"
                )
            else:
                feedback = "[feedback omitted to fit the prompt budget]"
            cut.append("feedback")
            prompt = self._render(inputs, feedback, inspirations, attempts)
        while prompt.tokens > self.max_tokens and inspirations:
            inspirations.pop()
            cut.append("inspiration")
            prompt = self._render(inputs, feedback, inspirations, attempts)
        while prompt.tokens > self.max_tokens and attempts:
            attempts.pop()
            cut.append("attempt")
            prompt = self._render(inputs, feedback, inspirations, attempts)
        return Prompt(prompt.system, prompt.user, tuple(cut))

    def _render(
        self, inputs: PromptInputs, feedback: str, inspirations: list[ProgramRecord], attempts: list[Attempt]
    ) -> Prompt:
        problem = self.problem
        system = Template(self.templates["system.txt"]).safe_substitute(problem_system=problem.prompt_system.strip())
        instructions = self.templates[
            "format_rewrite.txt" if inputs.edit_format == "rewrite" else "format_diff.txt"
        ].strip()
        if inputs.last_failure is not None:
            instructions += (
                f"\n\nYour previous reply for this program could not be used ({inputs.last_failure.failure_kind}): "
                f"{inputs.last_failure.outcome.split(': ', 1)[-1]} Avoid that mistake this time."
            )
        if inputs.tried:
            instructions += "\n\n" + tried_text(inputs.tried)
        guidance = inputs.guidance.strip()
        template = self.templates["user.txt"]
        if guidance and "$guidance" not in template:  # a problem's own user.txt: the direction goes with the task
            instructions = f"Direction for this attempt: {guidance}\n\n{instructions}"
        if inputs.hints:
            instructions = f"{hints_text(inputs.hints)}\n\n{instructions}"
        user = Template(template).safe_substitute(
            guidance=f"## Direction for this attempt\n{guidance}\n" if guidance else "",
            description=problem.description.strip() or "(no description)",
            objectives=objectives_text(problem),
            parent_summary=program_summary(inputs.parent, inputs.evaluations),
            parent_code=inputs.parent.code.rstrip("\n"),
            feedback=feedback or "(none)",
            inspirations=_inspirations(inspirations),
            attempts=_attempts(attempts),
            instructions=instructions,
        )
        return Prompt(system.strip() + "\n", user.strip() + "\n")


def hints_text(hints: tuple[str, ...]) -> str:
    """The steering person's hints as the prompt carries them."""
    lines = "\n".join(f"- {hint.strip()}" for hint in hints)
    return f"Hints from the person steering this run (follow them where they apply):\n{lines}"


def objectives_text(problem: Problem) -> str:
    lines = [f"- {o.name}: {'higher' if o.direction == 'max' else 'lower'} is better" for o in problem.objectives]
    lines.append(f"- the score that ranks programs is `{problem.score_metric}` (higher is better)")
    stages = [s for s in problem.evolution_stages]
    if len(stages) > 1:
        steps = ", then ".join(
            f"{s.name}" + (f" (needs at least {s.threshold:g} to continue)" if s.threshold is not None else "")
            for s in stages
        )
        lines.append(f"- evaluation runs in stages: {steps}")
    return "\n".join(lines)


def _metrics(program: ProgramRecord) -> str:
    shown = [f"{k}={v:.6g}" for k, v in sorted(program.metrics.items()) if k != "score"]
    return ", ".join(shown)


def program_summary(program: ProgramRecord, evaluations: list[Evaluation]) -> str:
    score = "none" if program.score is None else f"{program.score:.6g}"
    text = f"Program #{program.original_id}, score {score}"
    if program.stage_reached and not program.complete:
        text += f" (stopped after stage {program.stage_reached}: below its threshold)"
    metrics = _metrics(program)
    if metrics:
        text += f"\nMetrics: {metrics}"
    failures = [e for e in evaluations if not e.ok]
    for failure in failures:
        text += f"\nStage {failure.stage} failed ({failure.error_kind}): {failure.error.strip()[:1500]}"
    return text


def _feedback_text(evaluations: list[Evaluation]) -> str:
    parts = [f"[stage {e.stage}] {e.feedback.strip()}" for e in evaluations if e.feedback.strip()]
    return "\n".join(parts)


def evolvable_text(code: str) -> str:
    """The code between the EVOLVE-BLOCK markers (all of it when there are none)."""
    lines = split_lines(code)
    try:
        regions = find_regions(code)
    except MarkerError:
        return code
    if not any(START_MARKER in line for line in lines):
        return code
    return "\n# ...\n".join("".join(lines[r.start : r.end]).strip("\n") for r in regions)


def _inspirations(programs: list[ProgramRecord]) -> str:
    if not programs:
        return "(none yet)"
    blocks = []
    for number, program in enumerate(programs, 1):
        score = "none" if program.score is None else f"{program.score:.6g}"
        metrics = _metrics(program)
        head = f"### Inspiration {number}: program #{program.original_id}, score {score}"
        if metrics:
            head += f" ({metrics})"
        if program.description:
            head += f"\nIdea: {program.description[:200]}"
        blocks.append(f"{head}\n```python\n{evolvable_text(program.code)}\n```")
    return "\n\n".join(blocks)


DUPLICATES_HEADING = "Already tried from this program: these edits are in the archive already"
_TRIED_LINE_CHARS = 240  # a summary or change longer than this is cut: the section stays a few lines


def tried_text(tried: list[Attempt]) -> str:
    """The bounded "already tried" section: one line per edit (its first changed line, idea and outcome)."""
    lines = [f"{DUPLICATES_HEADING} (repeating one costs a call and teaches nothing); propose something different:"]
    for attempt in tried:
        idea = attempt.summary.strip().replace("\n", " ")
        how = f"program #{attempt.program_id}" if attempt.program_id is not None else "a duplicate"
        line = f"- changed {attempt.change} ({how})" + (f"; idea: {idea}" if idea else "")
        lines.append(line if len(line) <= _TRIED_LINE_CHARS else line[: _TRIED_LINE_CHARS - 1] + "…")
    return "\n".join(lines)


def _attempts(attempts: list[Attempt]) -> str:
    if not attempts:
        return "(none yet)"
    lines = []
    for attempt in attempts:
        who = attempt.mutator or "unknown"
        idea = attempt.summary.strip().replace("\n", " ")[:200] or "(no description)"
        lines.append(f"- [{who}] {idea} -> {attempt.outcome[:400]}")
    return "\n".join(lines)
