"""Field-named errors for campaign settings: what is wrong, and where (a dotted path)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One problem with one field, e.g. `conditions.scope.blocks[1].keywords`: 至少需要一個關鍵字."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class CampaignSettingsError(ValueError):
    """Settings that cannot be accepted; carries every problem found, not just the first."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors: tuple[FieldError, ...] = tuple(errors)
        super().__init__("; ".join(str(e) for e in self.errors) or "invalid campaign settings")

    @property
    def fields(self) -> list[str]:
        return [e.field for e in self.errors]
