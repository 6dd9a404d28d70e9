"""The incident store as the app uses it: every call on one thread, off the event loop."""

from __future__ import annotations

from typing import TYPE_CHECKING

from responder.incidents._store import INCIDENTS_FILE, IncidentStore
from responder.incidents.storethread import StoreThread

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["Incidents"]


class Incidents(StoreThread[IncidentStore]):
    """Owns the incident store and the one thread that touches it."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / INCIDENTS_FILE
        super().__init__(lambda: IncidentStore(self.path), "incidents")
