"""The printing SMTP server of `herald dev`: each email as a person reads it, a batch counted.

`python -m app.devmail --port N` listens on 127.0.0.1:N. The first emails of a burst are printed
with their decoded headers and the start of their text part; the rest of a burst (a batch send)
is counted once a second, `… 240 more emails received (total 250)`. After a few quiet seconds
the next email starts a new burst and is printed in full again.
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
import time
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, TextIO, cast

FULL_PER_BURST = 10
SUMMARY_INTERVAL_S = 1.0
QUIET_S = 3.0
TEXT_LINES = 6
LINE_WIDTH = 100
HEADERS = ("From", "To", "Subject", "List-Unsubscribe")


class MailPrinter:
    """An SMTP handler (aiosmtpd's `handle_DATA`) printing what it receives to `out`."""

    def __init__(
        self,
        out: TextIO,
        *,
        full_per_burst: int = FULL_PER_BURST,
        quiet_s: float = QUIET_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._out = out
        self._full_per_burst = full_per_burst
        self._quiet_s = quiet_s
        self._clock = clock
        self._lock = threading.Lock()
        self._total = 0
        self._printed_in_burst = 0
        self._uncounted = 0
        self._last_received = -math.inf

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.receive(envelope.content)
        return "250 Message accepted for delivery"

    def receive(self, raw: bytes) -> None:
        """Print an email in full, or count it for the next summary line."""
        with self._lock:
            now = self._clock()
            if now - self._last_received > self._quiet_s and not self._uncounted:
                self._printed_in_burst = 0
            self._last_received = now
            self._total += 1
            if self._printed_in_burst >= self._full_per_burst:
                self._uncounted += 1
                return
            self._printed_in_burst += 1
            number = self._total
        self._write(describe(raw, number=number))

    def summarise(self) -> None:
        """How many emails arrived since the last line without being printed, if any."""
        with self._lock:
            if not self._uncounted:
                return
            line = f"… {_count(self._uncounted, 'more email')} received (total {self._total})"
            self._uncounted = 0
        self._write(line)

    def _write(self, text: str) -> None:
        self._out.write(text + "\n")
        self._out.flush()


def describe(raw: bytes, *, number: int) -> str:
    """An email as a person reads it: a rule, decoded headers, the start of the text part."""
    rule = f"── email {number}, received {time.strftime('%H:%M:%S')} "
    try:
        message = cast(EmailMessage, message_from_bytes(raw, policy=policy.default))
        headers = [f"{name}: {message[name]}" for name in HEADERS if message[name] is not None]
        body = [f"  {line}" for line in _text_excerpt(message)]
    except Exception as exc:  # a printer never stops on one odd message
        headers, body = [f"(unreadable email: {exc.__class__.__name__}: {exc})"], []
    return "\n".join([rule.ljust(60, "─"), *headers, *body])


def _text_excerpt(message: EmailMessage) -> list[str]:
    part = message.get_body(preferencelist=("plain",))
    if part is None:
        return ["(no text part)"]
    lines = [line for line in str(part.get_content()).splitlines() if line.strip()]
    shown = [_cut(line) for line in lines[:TEXT_LINES]]
    if len(lines) > TEXT_LINES:
        shown.append(f"… ({_count(len(lines) - TEXT_LINES, 'more line')})")
    return shown or ["(empty text part)"]


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _cut(line: str) -> str:
    return line if len(line) <= LINE_WIDTH else line[: LINE_WIDTH - 1] + "…"


def serve(*, host: str, port: int) -> None:
    """Print every email sent to host:port until SIGTERM or Ctrl-C."""
    from aiosmtpd.controller import Controller  # a development dependency, as is this server

    printer = MailPrinter(sys.stdout)
    controller = Controller(printer, hostname=host, port=port)
    stopped = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: stopped.set())
    controller.start()
    try:
        while not stopped.wait(SUMMARY_INTERVAL_S):
            printer.summarise()
    finally:
        controller.stop()
        printer.summarise()


def main() -> None:
    parser = argparse.ArgumentParser(description="Print every email sent to this SMTP server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    serve(host=args.host, port=args.port)


if __name__ == "__main__":
    main()
