"""How fast this machine's CPUs run while a benchmark runs.

On a shared virtual machine the same code can take 1.5 times as long from one minute to the
next: every process slows down together (workers, Redis, PostgreSQL alike), with no steal time
to show for it. A benchmark's absolute figures then move with the machine rather than with the
code. `SpeedProbe` times a fixed piece of pure-Python work (building and serialising one MIME
email, as a worker does for every email) once a second in a process of its own, and reports the
median: compare runs whose probe agrees, or divide by it.

    with SpeedProbe() as probe:
        ...  # the run
    probe.median_us  # microseconds per probe, lower is faster
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
from email.message import EmailMessage
from multiprocessing.connection import Connection
from types import TracebackType

PROBE_INTERVAL_S = 1.0
ROUNDS = 10  # emails built per probe: a few milliseconds of work a second


def _build_email() -> bytes:
    message = EmailMessage()
    message["From"] = "Bench <bench@example.com>"
    message["To"] = "reader@example.com"
    message["Subject"] = "Your order is on its way"
    message.set_content("Hello reader,\n\nYour order ships today.\n")
    message.add_alternative("<p>Hello reader,</p><p>Your order ships today.</p>", "html")
    return message.as_bytes()


def probe_once() -> float:
    """CPU microseconds to build one email, averaged over `ROUNDS`: CPU time, not wall time, so
    that a probe waiting for a core busy with the benchmark does not count the wait."""
    started = time.process_time()
    for _ in range(ROUNDS):
        _build_email()
    return (time.process_time() - started) * 1e6 / ROUNDS


def _probe_until_told(results: Connection, stop: Connection) -> None:
    samples: list[float] = []
    while not stop.poll(PROBE_INTERVAL_S):
        samples.append(probe_once())
    results.send(samples)


class SpeedProbe:
    """A process probing the machine's speed once a second for as long as the block runs."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._results, results = context.Pipe(duplex=False)
        stop, self._stop = context.Pipe(duplex=False)
        self._process = context.Process(target=_probe_until_told, args=(results, stop))
        self.samples: list[float] = []

    def __enter__(self) -> SpeedProbe:
        self._process.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.send(True)
        if self._results.poll(30):
            self.samples = self._results.recv()
        self._process.join(timeout=10)

    @property
    def median_us(self) -> float:
        return round(statistics.median(self.samples), 1) if self.samples else float("nan")
