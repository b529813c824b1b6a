"""Group commit: concurrent threads (or greenlets) share one transaction for their writes.

Used where many threads of a process each make one small write and must wait until it is
durable: delivery claims and outcomes in a worker (app.engine.ledger), WebSocket
handshakes' `last_seen_at` in a web process (app.users.last_seen). The same batching serves a
read that must not predate the request: the credential generation (app.tenants.credentials),
since every flush starts after each of its items was submitted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout

Item = TypeVar("Item")
Answer = TypeVar("Answer")


class GroupCommit(Generic[Item, Answer]):
    """Runs `flush(items) -> answers` for whatever threads submitted while the last one ran.

    There is no background thread: a submitting thread that finds no flush in progress runs one
    for everything pending (its own item included). When it is done it wakes the threads of its
    batch and hands the next flush to the first thread still waiting, waking nobody else.
    """

    def __init__(self, flush: Callable[[Sequence[Item]], list[Answer]]) -> None:
        self._flush = flush
        self._lock = threading.Lock()
        self._pending: list[_Waiter[Item, Answer]] = []
        self._flushing = False

    def submit(self, item: Item) -> Answer:
        waiter: _Waiter[Item, Answer] = _Waiter(item)
        with self._lock:
            self._pending.append(waiter)
            leads = not self._flushing
            self._flushing = True
        try:
            if not leads:
                waiter.wake.wait()  # woken with an answer, or to run the next flush
            if not waiter.done:
                self._run_pending()
        except BaseException:  # interrupted (Dramatiq's time limit), perhaps holding the turn
            self._abandon(waiter, held_turn=leads or waiter.wake.is_set())
            raise
        if waiter.error is not None:
            raise waiter.error
        return waiter.answer  # type: ignore[return-value]

    def _run_pending(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
        try:
            self._settle(batch)
        except BaseException as exc:  # interrupted (Dramatiq's time limit): nobody may hang
            for waiter in batch:
                if not waiter.settled:
                    waiter.error = exc
            raise
        finally:
            for waiter in batch:
                waiter.done = True
                waiter.wake.set()
            with self._lock:
                if self._pending:
                    self._pending[0].wake.set()  # still `_flushing`: it runs the next flush
                else:
                    self._flushing = False

    def _abandon(self, waiter: _Waiter[Item, Answer], *, held_turn: bool) -> None:
        """Withdraw an item whose thread stops, passing on the next flush if it was to run it."""
        with self._lock:
            if waiter not in self._pending:
                return  # already in a flush, which settles it and passes the turn on
            self._pending.remove(waiter)
            if held_turn:
                if self._pending:
                    self._pending[0].wake.set()
                else:
                    self._flushing = False

    def _settle(self, batch: list[_Waiter[Item, Answer]]) -> None:
        try:
            answers = self._flush([w.item for w in batch])
        except Exception as exc:
            if len(batch) > 1 and _caused_by_an_item(exc):
                for waiter in batch:  # one bad item must not fail the others: each on its own
                    self._settle([waiter])
                return
            for waiter in batch:  # the database itself failed: so does the whole batch
                waiter.error, waiter.settled = exc, True
            return
        for waiter, answer in zip(batch, answers, strict=True):
            waiter.answer, waiter.settled = answer, True


class _Waiter(Generic[Item, Answer]):
    __slots__ = ("answer", "done", "error", "item", "settled", "wake")

    def __init__(self, item: Item) -> None:
        self.item = item
        self.answer: Answer | None = None
        self.error: BaseException | None = None
        self.settled = False  # has its answer or error
        self.done = False  # ... and its flush is over
        self.wake = threading.Event()


def _caused_by_an_item(exc: Exception) -> bool:
    """A value the database refused, or one that could not even be sent to it (bad JSON); not
    an outage (nor a pool timeout), where committing the items one by one would only fail many
    times more slowly."""
    if isinstance(exc, IntegrityError | DataError):
        return True
    return not isinstance(exc, DBAPIError | PoolTimeout)
