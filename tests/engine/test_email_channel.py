"""The SMTP channel's connection reuse against a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import pytest

from app.engine.channels import email as channel
from app.engine.channels.base import TransientFailure
from app.engine.channels.email import OutgoingEmail, SmtpConfig, SmtpSender
from tests.support.processes import free_port
from tests.support.sinks import SmtpSink


def message(to: str) -> OutgoingEmail:
    return OutgoingEmail(
        sender="Shop <shop@example.com>",
        recipient=to,
        subject="Hello",
        text="Hi",
        html="<p>Hi</p>",
        notification_id="n-1",
    )


def test_a_connection_the_server_dropped_while_idle_is_replaced_before_sending(
    monkeypatch: pytest.MonkeyPatch,
):
    port = free_port()
    first = SmtpSink(port=port).start()
    sender = SmtpSender(SmtpConfig.from_url(first.url))
    sender.send(message("a@example.com"))
    first.stop()  # the server goes away, and with it the open connection
    second = SmtpSink(port=port).start()
    monkeypatch.setattr(channel, "IDLE_CHECK_S", 0.0)
    try:
        sender.send(message("b@example.com"))
    finally:
        sender.close()
        second.stop()

    assert first.recipients() == ["a@example.com"]
    assert second.recipients() == ["b@example.com"]


def test_a_hang_up_met_while_sending_is_a_transient_failure_never_a_second_send():
    """smtplib cannot tell a hang-up after DATA from a dropped idle connection: no resend."""
    port = free_port()
    first = SmtpSink(port=port).start()
    sender = SmtpSender(SmtpConfig.from_url(first.url))
    sender.send(message("a@example.com"))
    first.stop()
    second = SmtpSink(port=port).start()  # a fresh connection would work
    try:
        with pytest.raises(TransientFailure, match="smtp connection failed"):
            sender.send(message("b@example.com"))
    finally:
        sender.close()
        second.stop()

    assert second.recipients() == []
