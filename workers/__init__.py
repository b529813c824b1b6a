"""Dramatiq actors, the broker, the reconciler and the worker middleware.

Importing builds nothing and connects to nothing: each process declares the actors on its own
broker, with its own runtime, in the composition root (`app.composition`), which is also the
`dramatiq` command's entry.
"""
