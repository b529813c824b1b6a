"""Broadcasts (the inbox API's): literal content for many recipients, on the batch pipeline."""
