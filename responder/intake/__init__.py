"""Intake: sender payloads parsed at the edge into `Event`s, journaled before they are acknowledged."""

from responder.intake.alertmanager import AlertmanagerGroup, alertmanager_events
from responder.intake.falco import FalcoPayload, falco_event

__all__ = ["AlertmanagerGroup", "FalcoPayload", "alertmanager_events", "falco_event"]
