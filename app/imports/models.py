"""An import, its records waiting in chunks, and the records that could not be imported."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base, IdMixin, JSONType, TimestampMixin

ENQUEUED = "enqueued"
PROCESSING = "processing"
PROCESSED = "processed"


class Import(Base, IdMixin, TimestampMixin):
    __tablename__ = "imports"

    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=ENQUEUED)
    total: Mapped[int] = mapped_column(Integer)
    created_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_count: Mapped[int] = mapped_column(Integer, default=0)
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[datetime | None] = mapped_column()


class ImportChunk(Base, IdMixin):
    """Records not imported yet; a chunk is deleted in the transaction that imports it."""

    __tablename__ = "import_chunks"
    __table_args__ = (UniqueConstraint("import_id", "first_index"),)

    import_id: Mapped[str] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"))
    first_index: Mapped[int] = mapped_column(Integer)
    records: Mapped[list[Any]] = mapped_column()


class ImportFailure(Base, IdMixin):
    __tablename__ = "import_failures"
    __table_args__ = (
        Index("ix_import_failures_import_id_record_index", "import_id", "record_index"),
    )

    import_id: Mapped[str] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"))
    record_index: Mapped[int] = mapped_column(Integer)
    record: Mapped[Any] = mapped_column(JSONType)
    errors: Mapped[list[Any]] = mapped_column()
