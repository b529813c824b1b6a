"""The people an app notifies, identified by the app's own external id or by email."""
