"""Fakes passed in where a real dependency cannot be made to fail on cue."""

from __future__ import annotations

from dataclasses import replace

from app.engine.senders import Senders, SendingIdentity
from app.runtime import Runtime


class UnreadableSenders(Senders):
    """Senders that cannot read an app's sending identity (the database went away)."""

    def identity(self, app_id: str) -> SendingIdentity:
        raise RuntimeError("the app's sender cannot be read")


def with_unreadable_senders(runtime: Runtime) -> Runtime:
    """The runtime, with senders that fail before anything is sent."""
    senders = UnreadableSenders(
        database=runtime.database,
        encryptor=runtime.encryptor,
        smtp_url=runtime.settings.smtp_url,
        default_sender=runtime.settings.default_sender,
    )
    return replace(runtime, senders=senders)
