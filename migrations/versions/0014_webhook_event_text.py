"""webhook events: each event's JSON kept as text, serialized once when it is written

A message's body is then its events' texts joined, with no decoding and encoding of every event
in the workers' pass. PostgreSQL writes the events still waiting in jsonb's own (valid) form.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

import app.orm

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_events") as batch:
        batch.alter_column(
            "payload",
            existing_type=app.orm.JSONType,
            type_=sa.Text(),
            existing_nullable=False,
            postgresql_using="payload::text",
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_events") as batch:
        batch.alter_column(
            "payload",
            existing_type=sa.Text(),
            type_=app.orm.JSONType,
            existing_nullable=False,
            postgresql_using="payload::jsonb",
        )
