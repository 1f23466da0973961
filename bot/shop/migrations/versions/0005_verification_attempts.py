"""order verification attempts (the lockout counts them per client and per order)

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "verification_attempts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("shop_id", sa.Integer(), sa.ForeignKey("shops.id"), nullable=False),
        sa.Column("client", sa.String(200), nullable=False),
        sa.Column("order_number", sa.String(32), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_verification_attempts_client", "verification_attempts", ["shop_id", "client", "created_at"])
    op.create_index("ix_verification_attempts_order", "verification_attempts", ["shop_id", "order_number", "created_at"])


def downgrade():
    op.drop_table("verification_attempts")
