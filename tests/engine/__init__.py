"""The delivery engine and its workers: pipeline, ledger, channels, destinations, retries."""
