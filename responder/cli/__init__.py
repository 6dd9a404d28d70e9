"""The `responder` command line."""

from responder.cli._main import main

__all__ = ["main"]
