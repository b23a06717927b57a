"""The makespan model of txn_scheduling, and the budgeted cost function a candidate searches with.

Owns: parsing op strings ("r-<key>", "w-<key>", "*") into transactions, the exact makespan of a
transaction order (the leaderboard's list scheduler, see shared/problems/txn_scheduling.md), and
`Workload`, the cost-function object a candidate receives: it counts calls to get_opt_seq_cost,
raises BudgetExhausted past its budget and remembers the best complete schedule it evaluated; and
`LeaderboardWorkload`, the leaderboard's `txn_simulator.Workload(workload_json)` for programs (and
exported policies) that build a workload themselves.

Standalone on purpose (standard library only, no package-relative imports): the trusted evaluator
imports it, and the evaluator also copies this file into the candidate's sandboxed process, where
the problem's driver loads it by path. One implementation serves both sides, so a candidate
searches against exactly the model that scores it.

Must not: read files, score, or trust anything the candidate hands it. Whatever the candidate's
process reports (counters included) is re-checked by the trusted side, which recomputes makespans
with `makespan()` in its own process.
"""

from __future__ import annotations

import json
import operator
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

READ = "r"
WRITE = "w"
STAR = "*"

# Every makespan() evaluation in this process, whoever asked for it. The driver compares it with
# the sum of the budgeted counters: a candidate that evaluates schedules around its budget (a
# reset counter, a second Workload, a direct makespan() call) makes the two disagree.
_TALLY = [0]


class WorkloadFormatError(ValueError):
    """An op string that is not a space-separated list of r-<key>, w-<key> and * tokens."""


class BudgetExhausted(BaseException):
    """The cost-function budget is spent. A BaseException so that `except Exception` in a candidate
    does not swallow it: the search stops and the driver keeps the best complete schedule seen."""


@dataclass(frozen=True)
class ParsedWorkload:
    """One workload: transaction i is ops[i]. Keys are interned to small ints for speed."""

    ops: tuple[str, ...]  # the raw op strings, one per transaction
    lengths: tuple[int, ...]  # L per transaction: its number of tokens, stars included
    steps: tuple[tuple[tuple[int, int, bool], ...], ...]  # per txn: (key index, position - 1, is write)
    keys: tuple[str, ...]  # key names (compared as strings, like the original) by key index
    # Derived for makespan(): per txn, its writes and its reads as (key, offset - 1, offset), in token order.
    writes: tuple[tuple[tuple[int, int, int], ...], ...] = field(init=False, repr=False, compare=False)
    reads: tuple[tuple[tuple[int, int, int], ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name, want_write in (("writes", True), ("reads", False)):
            split = tuple(tuple((k, o - 1, o) for k, o, w in txn if w is want_write) for txn in self.steps)
            object.__setattr__(self, name, split)

    @property
    def num_txns(self) -> int:
        return len(self.ops)

    def lower_bound(self) -> int:
        """No order finishes before its longest transaction does."""
        return max(self.lengths)

    def original_txns(self) -> list[list[tuple[str, str, int, int]]]:
        """The leaderboard's representation: per txn, (op type, key, 1-based position, length)."""
        return [
            [
                (WRITE if is_write else READ, self.keys[key], offset + 1, self.lengths[i])
                for key, offset, is_write in txn
            ]
            for i, txn in enumerate(self.steps)
        ]


def parse_workload(ops: Sequence[str]) -> ParsedWorkload:
    """Parse op strings; tokens are split on single spaces and keys are compared as strings."""
    if not ops:
        raise WorkloadFormatError("a workload needs at least one transaction")
    key_index: dict[str, int] = {}
    lengths: list[int] = []
    steps: list[tuple[tuple[int, int, bool], ...]] = []
    for i, text in enumerate(ops):
        if not isinstance(text, str):
            raise WorkloadFormatError(f"transaction {i}: expected an op string, got {type(text).__name__}")
        tokens = text.split(" ")
        txn: list[tuple[int, int, bool]] = []
        for offset, token in enumerate(tokens):
            if token == STAR:
                continue
            kind, sep, key = token.partition("-")
            if not sep or kind not in (READ, WRITE) or not key or "-" in key:
                raise WorkloadFormatError(f"transaction {i}: token {token!r} is not r-<key>, w-<key> or *")
            txn.append((key_index.setdefault(key, len(key_index)), offset, kind == WRITE))
        if not txn:
            # The original takes a transaction's length from its keyed tokens, so an all-star
            # transaction would have length 0 there; the workloads never contain one.
            raise WorkloadFormatError(f"transaction {i}: needs at least one r-<key> or w-<key> token")
        lengths.append(len(tokens))
        steps.append(tuple(txn))
    keys = tuple(sorted(key_index, key=key_index.__getitem__))
    return ParsedWorkload(tuple(ops), tuple(lengths), tuple(steps), keys)


def makespan(workload: ParsedWorkload, seq: Sequence[int]) -> int:
    """The makespan of placing the transactions of `seq` one by one, each as early as its locks allow.

    Equivalent to the original's per-key lists of lock entries: a write must follow the latest
    entry on its key, a read must follow the latest write (reads share), and every token of a
    transaction is checked against the table as it was before that transaction. Entries on a key
    never tie between a read and a write, so the latest entry time and the latest write time per
    key are all the state the rule needs. `seq` must hold valid indices (not checked here).
    """
    _TALLY[0] += 1
    latest = [0] * len(workload.keys)  # time of the latest lock entry on the key (0: none)
    latest_write = [0] * len(workload.keys)  # time of the latest write entry on the key (0: none)
    all_writes, all_reads, lengths = workload.writes, workload.reads, workload.lengths
    span = 0
    for t in seq:
        writes, reads = all_writes[t], all_reads[t]
        # The token at offset o runs at start + o and must come after the conflicting entry e:
        # start >= e + 1 - o = e - (o - 1).
        start = 1
        for key, before, _ in writes:
            need = latest[key] - before
            if need > start:
                start = need
        for key, before, _ in reads:
            need = latest_write[key] - before
            if need > start:
                start = need
        # A write lands after every earlier entry on its key, so it becomes the latest outright;
        # within the transaction, later tokens (larger offsets) come later in the tuple.
        for key, _, offset in writes:
            latest[key] = latest_write[key] = start + offset
        for key, _, offset in reads:
            at = start + offset
            if at > latest[key]:
                latest[key] = at
        end = start + lengths[t] - 1
        if end > span:
            span = end
    return span


def tally() -> int:
    """How many makespans this process has computed so far."""
    return _TALLY[0]


class Meter:
    """The counting state of one budgeted Workload (the driver keeps a reference of its own)."""

    __slots__ = ("budget", "calls", "best_makespan", "best_schedule")

    def __init__(self, budget: int):
        self.budget = budget
        self.calls = 0
        self.best_makespan: int | None = None
        self.best_schedule: list[int] | None = None


class Workload:
    """What a candidate's get_best_schedule(workload, num_seqs) receives.

    The leaderboard's attributes: num_txns, txns (per txn: (op type, key, position, length)),
    workload (the op strings), debug, and get_opt_seq_cost(seq). Added: budget, calls_made,
    calls_left, and best_seen() (the best complete schedule evaluated so far). get_opt_seq_cost
    raises BudgetExhausted once `budget` calls have been made.
    """

    __slots__ = ("_parsed", "_meter", "num_txns", "txns", "workload", "debug")

    def __init__(self, parsed: ParsedWorkload, meter: Meter):
        object.__setattr__(self, "_parsed", parsed)
        object.__setattr__(self, "_meter", meter)
        object.__setattr__(self, "num_txns", parsed.num_txns)
        object.__setattr__(self, "txns", parsed.original_txns())  # a copy: editing it changes nothing
        object.__setattr__(self, "workload", list(parsed.ops))
        object.__setattr__(self, "debug", False)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Workload.{name} is read-only (the cost function and its budget are fixed)")

    @property
    def budget(self) -> int:
        return self._meter.budget

    @property
    def calls_made(self) -> int:
        return self._meter.calls

    @property
    def calls_left(self) -> int:
        return max(0, self._meter.budget - self._meter.calls)

    def best_seen(self) -> tuple[int | None, list[int] | None]:
        """(makespan, schedule) of the best complete schedule evaluated so far, or (None, None)."""
        meter = self._meter
        return meter.best_makespan, None if meter.best_schedule is None else list(meter.best_schedule)

    def get_opt_seq_cost(self, txn_seq: Sequence[int]) -> int:
        """Makespan of `txn_seq` (any sequence of transaction ids, e.g. a prefix); one budgeted call."""
        n = self.num_txns
        try:
            seq = [operator.index(t) for t in txn_seq]
        except TypeError as exc:
            raise TypeError(f"get_opt_seq_cost expects a sequence of int transaction ids: {exc}") from None
        for t in seq:
            if not 0 <= t < n:
                raise ValueError(f"get_opt_seq_cost: transaction id {t} is out of range 0..{n - 1}")
        meter = self._meter
        if meter.calls >= meter.budget:
            raise BudgetExhausted(
                f"the budget of {meter.budget} get_opt_seq_cost calls for this workload is spent; "
                "return your best schedule (the best complete one evaluated is kept if you do not)"
            )
        meter.calls += 1
        cost = makespan(self._parsed, seq)
        if len(seq) == n and (meter.best_makespan is None or cost < meter.best_makespan) and len(set(seq)) == n:
            meter.best_makespan, meter.best_schedule = cost, seq
        return cost


class LeaderboardWorkload(Workload):
    """The leaderboard's `Workload(workload_json, debug=False, verify=False)`.

    `workload_json` maps transaction names to op strings ('{"txn0": "w-17 r-5 ...", ...}'),
    transactions in that order. Its budget is unlimited; every makespan it computes still counts
    in the process-wide tally, so inside a candidate's process evaluations made on a workload the
    program built itself show up on the trusted side as calls around the budget.
    """

    __slots__ = ()

    def __init__(self, workload_json: str, debug: bool = False, verify: bool = False):
        ops = json.loads(workload_json)
        if not isinstance(ops, dict):
            raise WorkloadFormatError("a leaderboard workload is a JSON object {txn name: op string}")
        super().__init__(parse_workload(list(ops.values())), Meter(sys.maxsize))
        object.__setattr__(self, "debug", bool(debug))


def leaderboard_json(ops: Sequence[str]) -> str:
    """The leaderboard's string form of a workload: '{"txn0": ops0, "txn1": ops1, ...}'."""
    return json.dumps({f"txn{i}": text for i, text in enumerate(ops)})


def budgeted_workload(parsed: ParsedWorkload, budget: int) -> tuple[Workload, Meter]:
    """A fresh cost-function object for the candidate, and the meter the driver reads afterwards."""
    meter = Meter(budget)
    return Workload(parsed, meter), meter
