"""co-parent deliveries

Revision ID: 0010_coparent
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0010_coparent"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "coparentdelivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("account", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("due_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("delivered_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["household_id"], ["household.id"]),
        sa.ForeignKeyConstraint(["item_id"], ["vaultitem.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("household_id", "item_id"),
    )
    op.create_index("ix_coparentdelivery_household_id", "coparentdelivery", ["household_id"])
    op.create_index("ix_coparentdelivery_due_at", "coparentdelivery", ["due_at"])
    op.create_index("ix_coparentdelivery_state", "coparentdelivery", ["state"])


def downgrade() -> None:
    op.drop_index("ix_coparentdelivery_state", table_name="coparentdelivery")
    op.drop_index("ix_coparentdelivery_due_at", table_name="coparentdelivery")
    op.drop_index("ix_coparentdelivery_household_id", table_name="coparentdelivery")
    op.drop_table("coparentdelivery")
