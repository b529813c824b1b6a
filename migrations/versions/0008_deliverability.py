"""deliverability: the suppression list, retries that wait in the database, DKIM and sending rates

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

import app.orm

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'suppressions',
        sa.Column('app_id', sa.String(length=36), nullable=False),
        sa.Column('email', sa.String(length=255), nullable=False),
        sa.Column('reason', sa.String(length=32), nullable=False),
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('created_at', app.orm.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', app.orm.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['app_id'], ['apps.id'], name=op.f('fk_suppressions_app_id_apps'), ondelete='CASCADE'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_suppressions')),
        sa.UniqueConstraint('app_id', 'email', name=op.f('uq_suppressions_app_id_email')),
    )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('next_attempt_at', app.orm.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            'ix_deliveries_status_next_attempt_at', ['status', 'next_attempt_at'], unique=False
        )
    with op.batch_alter_table('apps', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dkim', app.orm.JSONType, nullable=True))
        batch_op.add_column(sa.Column('email_per_second', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('apps', schema=None) as batch_op:
        batch_op.drop_column('email_per_second')
        batch_op.drop_column('dkim')
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_status_next_attempt_at')
        batch_op.drop_column('next_attempt_at')
    op.drop_table('suppressions')
