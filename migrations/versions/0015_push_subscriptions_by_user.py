"""push subscriptions found by app and user through one index

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every claim of push deliveries reads its users' subscriptions by (app_id, user_id IN ...).
    # With only an app_id index, PostgreSQL planning from stale or missing statistics (a table
    # just filled) walks every subscription of the app for each claim.
    op.create_index(
        "ix_push_subscriptions_app_id_user_id", "push_subscriptions", ["app_id", "user_id"]
    )
    op.drop_index("ix_push_subscriptions_app_id", table_name="push_subscriptions")


def downgrade() -> None:
    op.create_index("ix_push_subscriptions_app_id", "push_subscriptions", ["app_id"])
    op.drop_index("ix_push_subscriptions_app_id_user_id", table_name="push_subscriptions")
