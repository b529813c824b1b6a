"""Delivery channels. Each sends one rendered message and classifies what went wrong:
`TransientFailure` (worth retrying) or `PermanentFailure` (never retried)."""

from app.engine.channels.base import PermanentFailure, TransientFailure

__all__ = ["PermanentFailure", "TransientFailure"]
