"""The operator dashboard at /dashboard: server-rendered pages over the services the API uses
(docs/dashboard.md)."""
