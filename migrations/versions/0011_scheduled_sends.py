"""scheduled sends: a notification may wait in the database until its send_at

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

import app.orm

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('send_at', app.orm.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(
            'ix_notifications_status_send_at', ['status', 'send_at'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_status_send_at')
        batch_op.drop_column('send_at')
