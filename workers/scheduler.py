"""Starting scheduled sends once they are due: a pass every second in each worker process.

The schedule is the database's (`send_at` of `scheduled` notifications); nothing of it waits in
Redis. Every worker process runs the pass, leader or not: each send is claimed by a conditional
update (`app.engine.lifecycle`) that exactly one process wins, and only the winner enqueues it.
A batch goes to the dispatcher; a realtime or direct send is fanned out in the claiming
transaction and its deliveries enqueued. Should Redis not take those messages, what was claimed
is committed `queued` work (a batch, or deliveries), which the reconciler's lost-work pass
enqueues again (`workers.reconciler`). A send that came due while no worker ran, or while the
database was away, starts on the first pass after.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from app.engine import lifecycle, schedule
from app.orm import utcnow
from workers.periodic import PeriodicPass

if TYPE_CHECKING:
    from app.runtime import Runtime
    from workers.actors import Actors

log = logging.getLogger(__name__)

PASS_INTERVAL_S = 1.0
# Sends started per pass and kind; more due than that start on the passes that follow.
PASS_LIMIT = 500


@dataclass(frozen=True)
class Started:
    """The sends one pass started: batches handed to the dispatcher, sends fanned out."""

    batches: list[str]
    fanned_out: list[str]


def start_due_sends(runtime: Runtime, actors: Actors, *, now: datetime | None = None) -> Started:
    """Start every send due by `now` (default: now) that this call claims."""
    due_by = now or utcnow()
    with runtime.database.transaction() as session:
        batches = lifecycle.claim_due_batches(session.connection(), now=due_by, limit=PASS_LIMIT)
        candidates = schedule.due_to_fan_out(session, now=due_by, limit=PASS_LIMIT)
    actors.hand_off([actors.delivery.dispatch_notification.message(i) for i in batches])
    fanned_out = [i for i in candidates if _fan_out(runtime, actors, i, due_by)]
    if batches or fanned_out:
        log.info("started %d scheduled batch(es), %d other send(s)", len(batches), len(fanned_out))
    return Started(batches, fanned_out)


def _fan_out(runtime: Runtime, actors: Actors, notification_id: str, due_by: datetime) -> bool:
    """Claim and fan out one realtime or direct send, then enqueue its deliveries (realtime ones
    on the realtime queue, as their request would have); False when another process had it."""
    with runtime.database.transaction() as session:
        started = schedule.start_fanned_out(
            session, notification_id=notification_id, now=due_by, links=runtime.unsubscribe_links
        )
        if started is None:
            return False
        notification, fanned = started
        app_id, realtime = notification.app_id, notification.mode == "realtime"
    actors.delivery.after_fan_out(app_id, fanned, realtime=realtime)
    return True


class SchedulerMiddleware(PeriodicPass):
    """Runs `start_due_sends` when a worker process boots and every PASS_INTERVAL_S after."""

    name = "scheduler"
    at_boot = True

    def __init__(self, runtime: Runtime, actors: Actors) -> None:
        super().__init__()
        self.runtime = runtime
        self.actors = actors

    def interval_s(self) -> float:
        return PASS_INTERVAL_S

    def run_once(self) -> None:
        start_due_sends(self.runtime, self.actors)
