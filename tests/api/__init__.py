"""The HTTP API through the Flask test client: routes, credentials, errors, limits, wire format."""
