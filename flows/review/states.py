"""Where an upload stands in review, and the decisions a reviewer (or the hold's end) makes."""
from __future__ import annotations

from enum import Enum
from typing import TypeVar

E = TypeVar("E", bound=Enum)


class ReviewState(str, Enum):
    """uploads.review_state (NULL: never under review)."""

    HELD = "held"  # passed, reward held for the hold period; no signal: released at its end
    FLAGGED = "flagged"  # signals found: waits for a person
    APPEALED = "appealed"  # the shopper's 回報問題: waits for a person
    APPROVED = "approved"
    REJECTED = "rejected"
    RELEASED = "released"  # the hold period ended with no flag

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def waiting(self) -> bool:
        """Still to be decided (in the queue, or held until its period ends)."""
        return self in WAITING


_LABELS = {
    ReviewState.HELD: "保留中",
    ReviewState.FLAGGED: "待審核",
    ReviewState.APPEALED: "申訴待審",
    ReviewState.APPROVED: "已核准",
    ReviewState.REJECTED: "已退件",
    ReviewState.RELEASED: "期滿放行",
}

WAITING = frozenset({ReviewState.HELD, ReviewState.FLAGGED, ReviewState.APPEALED})
#: The states a person has to decide (the queue's default filter).
NEEDS_PERSON = frozenset({ReviewState.FLAGGED, ReviewState.APPEALED})


class DecisionKind(str, Enum):
    APPROVE = "approve"
    REJECT = "reject"
    CORRECT = "correct"  # fields fixed, the rules run again (the upload stays in review)
    RELEASE = "release"  # the hold period ended (no actor)

    @property
    def label(self) -> str:
        return {"approve": "核准", "reject": "退件", "correct": "更正", "release": "期滿放行"}[self.value]


def parse_choice(kind: type[E], text: str, field: str) -> E:
    """A member of a labelled enum from its value or its zh-TW label; ValueError naming `field`
    and the choices."""
    for member in kind:
        if text in (member.value, member.label):  # type: ignore[attr-defined]
            return member
    choices = ", ".join(f"{m.value} ({m.label})" for m in kind)  # type: ignore[attr-defined]
    raise ValueError(f"{field}: unknown value {text!r}; one of: {choices}")


def parse_state(text: str) -> ReviewState:
    return parse_choice(ReviewState, text, "state")
