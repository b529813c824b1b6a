"""webhooks: endpoints, the outbox of events, signed messages and their attempts

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-09
"""

import sqlalchemy as sa
from alembic import op

import app.orm

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def _timestamp(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, app.orm.UTCDateTime(timezone=True), nullable=nullable)


def _endpoint_key(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ['endpoint_id'],
        ['webhook_endpoints.id'],
        name=op.f(f'fk_{table}_endpoint_id_webhook_endpoints'),
        ondelete='CASCADE',
    )


def upgrade() -> None:
    op.create_table(
        'webhook_endpoints',
        sa.Column('app_id', sa.String(length=36), nullable=False),
        sa.Column('url', sa.String(length=2048), nullable=False),
        sa.Column('description', sa.String(length=500), nullable=False),
        sa.Column('events', app.orm.JSONType, nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('disabled_reason', sa.Text(), nullable=True),
        sa.Column('secret_encrypted', sa.Text(), nullable=False),
        sa.Column('previous_secret_encrypted', sa.Text(), nullable=True),
        _timestamp('previous_secret_until', nullable=True),
        _timestamp('failing_since', nullable=True),
        sa.Column('id', sa.String(length=36), nullable=False),
        _timestamp('created_at'),
        _timestamp('updated_at'),
        sa.ForeignKeyConstraint(
            ['app_id'], ['apps.id'], name=op.f('fk_webhook_endpoints_app_id_apps'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_endpoints')),
    )
    op.create_index(
        op.f('ix_webhook_endpoints_app_id'), 'webhook_endpoints', ['app_id'], unique=False
    )
    op.create_table(
        'webhook_events',
        sa.Column('event_id', sa.String(length=40), nullable=False),
        sa.Column('endpoint_id', sa.String(length=36), nullable=False),
        sa.Column('type', sa.String(length=40), nullable=False),
        sa.Column('payload', app.orm.JSONType, nullable=False),
        _timestamp('created_at'),
        sa.Column('id', sa.String(length=36), nullable=False),
        _endpoint_key('webhook_events'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_events')),
    )
    op.create_index(
        op.f('ix_webhook_events_created_at'), 'webhook_events', ['created_at'], unique=False
    )
    op.create_index(
        'ix_webhook_events_endpoint_id_created_at',
        'webhook_events',
        ['endpoint_id', 'created_at'],
        unique=False,
    )
    op.create_table(
        'webhook_messages',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('endpoint_id', sa.String(length=36), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('event_count', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        _timestamp('next_attempt_at'),
        _timestamp('lease_until', nullable=True),
        _timestamp('delivered_at', nullable=True),
        _timestamp('created_at'),
        _timestamp('updated_at'),
        _endpoint_key('webhook_messages'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_messages')),
    )
    op.create_index(
        op.f('ix_webhook_messages_endpoint_id'), 'webhook_messages', ['endpoint_id'], unique=False
    )
    op.create_index(
        'ix_webhook_messages_status_next_attempt_at',
        'webhook_messages',
        ['status', 'next_attempt_at'],
        unique=False,
    )
    op.create_table(
        'webhook_attempts',
        sa.Column('endpoint_id', sa.String(length=36), nullable=False),
        sa.Column('message_id', sa.String(length=40), nullable=False),
        sa.Column('event_count', sa.Integer(), nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('latency_ms', sa.Integer(), nullable=False),
        sa.Column('response_body', sa.Text(), nullable=True),
        _timestamp('created_at'),
        sa.Column('id', sa.String(length=36), nullable=False),
        _endpoint_key('webhook_attempts'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_attempts')),
    )
    op.create_index(
        'ix_webhook_attempts_endpoint_id_created_at',
        'webhook_attempts',
        ['endpoint_id', 'created_at'],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index('ix_webhook_attempts_endpoint_id_created_at', table_name='webhook_attempts')
    op.drop_table('webhook_attempts')
    op.drop_index('ix_webhook_messages_status_next_attempt_at', table_name='webhook_messages')
    op.drop_index(op.f('ix_webhook_messages_endpoint_id'), table_name='webhook_messages')
    op.drop_table('webhook_messages')
    op.drop_index('ix_webhook_events_endpoint_id_created_at', table_name='webhook_events')
    op.drop_index(op.f('ix_webhook_events_created_at'), table_name='webhook_events')
    op.drop_table('webhook_events')
    op.drop_index(op.f('ix_webhook_endpoints_app_id'), table_name='webhook_endpoints')
    op.drop_table('webhook_endpoints')
