"""Topic subscriptions: who follows a topic, and who opted out of it or of its categories."""
