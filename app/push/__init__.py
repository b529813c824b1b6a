"""Push subscriptions: browser Web Push endpoints and mobile device tokens."""
