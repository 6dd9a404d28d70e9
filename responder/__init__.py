"""responder: contain Docker containers on Falco and Alertmanager alerts."""

__all__ = ["__version__"]

__version__ = "0.1.0"
