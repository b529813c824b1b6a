"""The template store: rendering, variable schemas, files and the review workflow."""
