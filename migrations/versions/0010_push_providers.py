"""push providers: each app's FCM service account and APNs token key, encrypted

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

import app.orm

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('apps', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fcm', app.orm.JSONType, nullable=True))
        batch_op.add_column(sa.Column('apns', app.orm.JSONType, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('apps', schema=None) as batch_op:
        batch_op.drop_column('apns')
        batch_op.drop_column('fcm')
