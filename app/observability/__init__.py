"""Operations metrics for Prometheus, shared by every process of a host (docs/operations.md,
"Metrics and alerts"): what they are (`metrics`), where a host's processes keep them
(`process_files`), and how they are read back for a scrape (`exposition`). Flask-free, so the
engine and the workers count with the same objects as the web process."""
