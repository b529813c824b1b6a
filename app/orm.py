"""The ORM foundation of the app's models (defined in `templates_store.orm`, see there why)."""

from templates_store.orm import (
    NAMING_CONVENTION,
    Base,
    IdMixin,
    JSONType,
    TimestampMixin,
    UTCDateTime,
    new_id,
    utcnow,
)

__all__ = [
    "NAMING_CONVENTION",
    "Base",
    "IdMixin",
    "JSONType",
    "TimestampMixin",
    "UTCDateTime",
    "new_id",
    "utcnow",
]
