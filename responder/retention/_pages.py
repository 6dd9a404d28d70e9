"""The bytes an SQLite file's pages hold: what a size budget is measured against."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite3

__all__ = ["used_bytes"]


def used_bytes(conn: sqlite3.Connection) -> int:
    """Bytes of the connection's main file in use: its pages less the free ones."""
    (pages,) = conn.execute("PRAGMA main.page_count").fetchone()
    (free,) = conn.execute("PRAGMA main.freelist_count").fetchone()
    (size,) = conn.execute("PRAGMA main.page_size").fetchone()
    return int((pages - free) * size)
