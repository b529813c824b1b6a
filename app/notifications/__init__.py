"""The send API (`/api/notifications`): accepting templated sends, progress, deliveries, cancel.

The delivery work itself is the engine's (`app.engine`).
"""
