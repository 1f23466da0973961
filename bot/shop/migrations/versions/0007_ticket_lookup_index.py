"""tickets found by shop and conversation with one index

Every shopper message looks up its conversation's open ticket. With one index on the shop and
another on the conversation, SQLite reads the shop's: every ticket the shop ever had.

Revision ID: 0007
Revises: 0006
"""
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index("ix_tickets_sender_id", table_name="tickets")
    op.create_index("ix_tickets_shop_sender", "tickets", ["shop_id", "sender_id"])


def downgrade():
    op.drop_index("ix_tickets_shop_sender", table_name="tickets")
    op.create_index("ix_tickets_sender_id", "tickets", ["sender_id"])
