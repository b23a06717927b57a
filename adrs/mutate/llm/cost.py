"""The cost meter: dollars spent and committed by LLM calls, against an optional cap.

Owns: the committed cost of a run, spent (priced from the usage each endpoint reports) plus in
flight (each call reserved at its worst case: the estimated prompt plus `max_tokens` of output).
A call starts only if its reservation fits under the cap, so the cap holds even with many calls in
flight; once one does not fit, the meter says why and the run stops proposing (evaluations of
what was already paid for still finish). Spending of earlier invocations of the run counts too:
the cap is on the run's total.

Must not: talk to endpoints or the archive (the LLM source feeds it the run's past spending).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Reservation:
    amount: float
    open: bool = True


class CostMeter:
    def __init__(self, cap: float | None, spent: float = 0.0):
        self.cap = cap
        self.spent = spent
        self.in_flight = 0.0
        self._refusal = ""

    @property
    def committed(self) -> float:
        return self.spent + self.in_flight

    def reserve(self, worst_case: float) -> Reservation | None:
        """Reserve `worst_case` dollars for a call, or None (and remember why) when the cap forbids it."""
        if self.cap is not None and self.committed + worst_case > self.cap + 1e-12:
            self._refusal = (
                f"LLM cost cap ${self.cap:.2f} reached: ${self.spent:.4f} spent, ${self.in_flight:.4f} in flight, "
                f"the next call may cost up to ${worst_case:.4f}"
            )
            return None
        self.in_flight += worst_case
        return Reservation(worst_case)

    def settle(self, reservation: Reservation, actual: float) -> None:
        """The call ended: release its reservation and count what it really cost."""
        if reservation.open:
            reservation.open = False
            self.in_flight = max(0.0, self.in_flight - reservation.amount)
        self.spent += actual

    @property
    def stop_reason(self) -> str | None:
        """Why no further call may start (the cap was reached), or None."""
        return self._refusal or None
