"""The per-app allow-list every send path applies to email recipients."""
