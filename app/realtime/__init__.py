"""Realtime delivery: WebSocket connections fed through Redis pub/sub, presence, and POST /send.

`publisher` is Flask-free (workers publish inbox events through it); `hub` holds one process's
sockets and its single Redis subscription; `ws` and `routes` are the HTTP edge.
"""
