"""The WebSocket API: hub, frames, sockets, presence, publishing, and its HTTP `POST /send`."""
