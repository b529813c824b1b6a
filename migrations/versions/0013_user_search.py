"""user search: indexes for finding an app's users by the start of an external id or email

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-10
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# PostgreSQL uses a btree for `LIKE 'prefix%'` only under the C collation or with the pattern
# operator class; SQLite ignores the operator class.
PATTERN_INDEXES = {
    "ix_users_app_id_external_id_pattern": "external_id",
    "ix_users_app_id_email_pattern": "email",
}


def upgrade() -> None:
    for name, column in PATTERN_INDEXES.items():
        op.create_index(
            name,
            "users",
            ["app_id", column],
            unique=False,
            postgresql_ops={column: "text_pattern_ops"},
        )


def downgrade() -> None:
    for name in PATTERN_INDEXES:
        op.drop_index(name, table_name="users")
