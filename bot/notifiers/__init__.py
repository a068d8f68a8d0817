"""The notifier registry: key in bot.yaml / a profile's `notify:` -> the class that sends."""

from __future__ import annotations

from bot.notifiers.base import Notifier
from bot.notifiers.email import EmailNotifier
from bot.notifiers.slack import SlackNotifier

NOTIFIERS: dict[str, type[Notifier]] = {
    SlackNotifier.name: SlackNotifier,
    EmailNotifier.name: EmailNotifier,
}
