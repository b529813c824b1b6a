"""The request id follows a send from the API into the workers' log lines.

A message enqueued while a request id is bound (by the web process for its request, or by a
worker for the message it is processing) carries that id in its options; a worker binds it while
it processes the message, so a dispatch, its chunks and every delivery they enqueue log under the
id of the request that accepted the send. One search for that id shows the send's whole path.
"""

from __future__ import annotations

import dramatiq
from dramatiq import Message

from app.logformat import NO_REQUEST_ID, bind_request_id, current_request_id

REQUEST_ID_OPTION = "request_id"


class RequestIdPropagation(dramatiq.Middleware):
    """Carry the current request id in the messages enqueued, and bind it while one is
    processed (cleared after, as a worker thread goes on to other messages)."""

    def before_enqueue(self, broker: dramatiq.Broker, message: Message, delay: int) -> None:
        request_id = current_request_id()
        if request_id != NO_REQUEST_ID:
            message.options.setdefault(REQUEST_ID_OPTION, request_id)

    def before_process_message(self, broker: dramatiq.Broker, message: Message) -> None:
        bind_request_id(message.options.get(REQUEST_ID_OPTION, NO_REQUEST_ID))

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: Message,
        *,
        result: object = None,
        exception: BaseException | None = None,
    ) -> None:
        bind_request_id(NO_REQUEST_ID)

    def after_skip_message(self, broker: dramatiq.Broker, message: Message) -> None:
        bind_request_id(NO_REQUEST_ID)
