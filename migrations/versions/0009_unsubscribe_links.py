"""preferences remember when an unsubscribe link, not the preferences API, switched email off

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

import app.orm

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('notification_preferences', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('unsubscribed_at', app.orm.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table('notification_preferences', schema=None) as batch_op:
        batch_op.drop_column('unsubscribed_at')
