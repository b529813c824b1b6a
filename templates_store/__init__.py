"""Notification templates: versions, approval, variable schemas and sandboxed rendering.

A library of its own: it imports no Flask, so the API, the workers, the CLI and tests share it.
"""
