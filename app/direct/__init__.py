"""Direct (non-templated) multi-channel sends: `POST /api/v1/notifications/send`."""
