"""verification attempts indexed by outcome: the lockout reads only the failures

The lockout is checked on every step of the order form, and reads a client's (or an order's)
failed attempts of the last day. With the outcome after the client in the index, that reads the
failures alone, not every attempt of a busy address (a proxy's, or a shop's own office).

Revision ID: 0008
Revises: 0007
"""
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index("ix_verification_attempts_client", table_name="verification_attempts")
    op.drop_index("ix_verification_attempts_order", table_name="verification_attempts")
    op.create_index("ix_verification_attempts_client", "verification_attempts", ["shop_id", "client", "succeeded", "created_at"])
    op.create_index("ix_verification_attempts_order", "verification_attempts", ["shop_id", "order_number", "succeeded", "created_at"])


def downgrade():
    op.drop_index("ix_verification_attempts_client", table_name="verification_attempts")
    op.drop_index("ix_verification_attempts_order", table_name="verification_attempts")
    op.create_index("ix_verification_attempts_client", "verification_attempts", ["shop_id", "client", "created_at"])
    op.create_index("ix_verification_attempts_order", "verification_attempts", ["shop_id", "order_number", "created_at"])
