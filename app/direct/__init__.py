"""Direct (non-templated) multi-channel sends, seed 003's `POST /api/v1/notifications/send`."""
