"""The delivery engine: what a worker runs, free of Flask and of the HTTP edge.

Notifications and their deliveries (models, state machines), splitting a batch into chunks,
fanning out to recipients, sending through channels, the ledger of claims and outcomes, the
retry policy, and progress. The web process calls it to accept sends; `workers` runs it.
See docs/architecture.md.
"""
