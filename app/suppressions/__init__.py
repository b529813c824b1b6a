"""Per-app suppression list: addresses no email is sent to (hard bounces, unsubscribes, manual)."""
