"""State machines written as tables: for each action, who takes it, from which statuses, to which.

`Transition.apply` checks a caller's capacities, the current status and the reason the same way in
every service, refusing with the `Refusal` that becomes a 403, 409 or 422 problem.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from chorus_common.actions import ActionRefused, Refusal

S = TypeVar("S", bound=StrEnum)
C = TypeVar("C", bound=StrEnum)


@dataclass(frozen=True)
class Transition(Generic[S, C]):
    capacity: C  # who takes the action
    sources: frozenset[S]
    target: S
    needs: str | None = None  # what the action must come with: "reason", "message"

    def allowed_to(self, action: str, capacities: Collection[C], noun: str) -> None:
        """Refuse (403) a caller that does not hold the transition's capacity on the `noun`."""
        if self.capacity not in capacities:
            raise ActionRefused(
                f"{action} is taken by the {noun}'s {self.capacity.name.lower()}", Refusal.FORBIDDEN
            )

    def from_status(self, action: str, status: S, reason: str | None, noun: str) -> S:
        """The target from `status` (409 when the action is not possible now; 422 without what it needs)."""
        if status not in self.sources:
            raise ActionRefused(
                f"{action} is not possible on this {noun} in status {status}", Refusal.NOT_NOW
            )
        if self.needs is not None and not (reason and reason.strip()):
            raise ActionRefused(
                f"{action} requires a {self.needs}", Refusal.INCOMPLETE, f"{self.needs}-required"
            )
        return self.target

    def apply(self, action: str, capacities: Collection[C], status: S, reason: str | None, noun: str) -> S:
        self.allowed_to(action, capacities, noun)
        return self.from_status(action, status, reason, noun)
