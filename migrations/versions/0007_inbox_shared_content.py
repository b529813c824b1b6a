"""inbox rows of literal sends read their content from the notification instead of copying it

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('inbox_notifications', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('shared_content', sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table('inbox_notifications', schema=None) as batch_op:
        batch_op.drop_column('shared_content')
