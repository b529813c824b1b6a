"""Apps (tenants), their secret keys and their settings."""
