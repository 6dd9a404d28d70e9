"""Which notifier serves which channel kind, and the notifiers for the configured channels."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, get_args

from responder.notifications.channels._kinds import Channel
from responder.notifications.channels.email import EmailNotifier
from responder.notifications.channels.log import LogNotifier
from responder.notifications.channels.pagerduty import PagerDutyNotifier
from responder.notifications.channels.slack import SlackNotifier
from responder.notifications.channels.teams import TeamsNotifier
from responder.notifications.channels.webhook import WebhookNotifier

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pydantic import BaseModel

    from responder.notifications.channels._base import Notifier

__all__ = ["NOTIFIER_KINDS", "build_notifiers", "channel_models"]

NOTIFIER_KINDS: dict[str, type[Notifier[Any]]] = {
    notifier.kind: notifier
    for notifier in (
        LogNotifier,
        WebhookNotifier,
        SlackNotifier,
        TeamsNotifier,
        PagerDutyNotifier,
        EmailNotifier,
    )
}
"""Channel kind -> the notifier class that delivers to it, in the order they are listed."""


def channel_models() -> dict[str, type[BaseModel]]:
    """Channel kind -> its settings model, read from the `Channel` union itself."""
    union, _discriminator = get_args(Channel)
    models: tuple[type[BaseModel], ...] = get_args(union)
    return {model.model_fields["kind"].default: model for model in models}


def build_notifiers(
    channels: Mapping[str, Channel], environ: Mapping[str, str] | None = None
) -> dict[str, Notifier[Any]]:
    """One notifier per configured channel, by name; `environ` is where secrets are read."""
    return {
        name: NOTIFIER_KINDS[channel.kind](name, channel, environ)
        for name, channel in channels.items()
    }
