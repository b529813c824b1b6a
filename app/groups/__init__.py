"""Groups: named sets of an app's users, kept server side, that realtime sends can target."""
