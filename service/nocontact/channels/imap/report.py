"""What one pass did for one account: the shape of `nocontact poll --json` (DESIGN §6)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class AccountReport:
    name: str
    scanned: int = 0
    quarantined: int = 0
    recorded: int = 0
    review: int = 0
    delivered: int = 0
    errors: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "scanned": self.scanned,
            "quarantined": self.quarantined,
            "recorded": self.recorded,
            "review": self.review,
            "delivered": self.delivered,
            "errors": list(self.errors),
        }
