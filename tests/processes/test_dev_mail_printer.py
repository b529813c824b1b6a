"""The printing SMTP server of `herald dev`: each email as a person reads it (decoded headers, the
start of the text part), and a batch as a count once a second rather than thousands of emails."""

from __future__ import annotations

import io
import smtplib
import subprocess
import sys
from pathlib import Path

from app.config import PROJECT_ROOT
from app.devmail import MailPrinter, describe
from app.engine.channels.email import OutgoingEmail, build_message
from tests.support.processes import free_port
from tests.support.sinks import wait_until

TEXT = (
    "Hi Jane,\n\nYour order ORD-1 is confirmed.\nIt ships tomorrow.\nLine 4\nLine 5\nLine 6\nLine 7"
)


def email(number: int = 1, *, unsubscribe: str | None = None) -> bytes:
    message = build_message(
        OutgoingEmail(
            sender="Herald <no-reply@localhost>",
            recipient=f"jane{number}@example.com",
            subject=f"Commande n°{number} confirmée",
            text=TEXT,
            html="<p>Hi Jane</p>",
            notification_id="n-1",
        )
    )
    if unsubscribe:
        message["List-Unsubscribe"] = unsubscribe
    return message.as_bytes()


def test_an_email_is_printed_with_decoded_headers_and_the_start_of_its_text():
    printed = describe(email(unsubscribe="<https://shop.example/unsubscribe>"), number=3)

    assert printed.splitlines()[1:] == [
        "From: Herald <no-reply@localhost>",
        "To: jane1@example.com",
        "Subject: Commande n°1 confirmée",
        "List-Unsubscribe: <https://shop.example/unsubscribe>",
        "  Hi Jane,",
        "  Your order ORD-1 is confirmed.",
        "  It ships tomorrow.",
        "  Line 4",
        "  Line 5",
        "  Line 6",
        "  … (1 more line)",
    ]
    assert printed.startswith("── email 3, received ")


def test_a_burst_prints_its_first_ten_emails_then_counts_the_rest_once_per_interval():
    out, now = io.StringIO(), [0.0]
    printer = MailPrinter(out, clock=lambda: now[0])

    for number in range(1, 26):
        printer.receive(email(number))
    printer.summarise()
    printer.summarise()  # nothing new since the last count

    assert out.getvalue().count("── email ") == 10
    assert "To: jane10@example.com" in out.getvalue()
    assert "To: jane11@example.com" not in out.getvalue()
    assert out.getvalue().splitlines()[-1] == "… 15 more emails received (total 25)"

    now[0] += 10  # a quiet while later, the next email starts a new burst
    printer.receive(email(26))
    assert "── email 26, received " in out.getvalue()


def test_the_printing_smtp_server_prints_and_counts_what_it_is_sent(tmp_path: Path):
    port, log_path = free_port(), tmp_path / "printer.log"
    with log_path.open("wb") as log:
        printer = subprocess.Popen(
            [sys.executable, "-m", "app.devmail", "--port", str(port)],
            cwd=PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: _accepts(port), timeout=30)
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for number in range(1, 13):
                smtp.sendmail("no-reply@localhost", [f"jane{number}@example.com"], email(number))

        output = wait_until(
            lambda: "… 2 more emails received (total 12)" in (text := log_path.read_text()) and text
        )
        assert "Subject: Commande n°1 confirmée" in output
        assert "base64" not in output
    finally:
        printer.terminate()
        assert printer.wait(timeout=30) == 0


def _accepts(port: int) -> bool:
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=1):
            return True
    except OSError:
        return False
