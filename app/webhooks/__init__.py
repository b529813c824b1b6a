"""Webhooks: signed HTTP callbacks telling an app what became of its sends (docs/webhooks.md)."""
