"""Type aliases for the command line."""

from __future__ import annotations

import argparse

__all__ = ["Subparsers"]

Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]  # noqa: SLF001 - argparse's own type
