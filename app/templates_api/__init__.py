"""The template API: `/api/templates` over the template store."""
