"""After a templated send commits: handing it to the workers, and the send API's answer.

`POST /api/notifications/send` and `herald send` both end here, after
`service.accept_templated_send` accepted the send and the caller committed it.
"""

from __future__ import annotations

from typing import Any

from app.notifications.service import Accepted
from workers.actors import Actors


def start_delivery(actors: Actors, app_id: str, accepted: Accepted) -> None:
    """Hand a committed send to the workers: a batch to the dispatcher; a realtime send, fanned
    out already, has its inbox rows published and its emails and pushes enqueued. A scheduled
    send waits in the database: a worker starts it when it is due (`workers.scheduler`)."""
    if accepted.scheduled:
        return
    if accepted.fanned is None:
        actors.hand_off([actors.delivery.dispatch_notification.message(accepted.notification.id)])
    else:
        actors.delivery.after_fan_out(app_id, accepted.fanned, realtime=True)


def send_answer(accepted: Accepted, view: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The send API's body and status: the notification without its progress, 202 for a batch
    or a scheduled send (delivered later) and 200 for a realtime send (fanned out already)."""
    body = {name: value for name, value in view.items() if name != "progress"}
    return body, 202 if accepted.fanned is None else 200
