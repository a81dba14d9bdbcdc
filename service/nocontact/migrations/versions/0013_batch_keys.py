"""vault format 2: per-item AES-GCM data keys wrapped under age-sealed batch keys

Revision ID: 0013_batch_keys
Revises: 0012_sealed_blobs
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0013_batch_keys"
down_revision: str | None = "0012_sealed_blobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "batchkey",
        sa.Column("batch", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["household_id"], ["household.id"]),
        sa.ForeignKeyConstraint(["recipient_id"], ["recipient.id"]),
        sa.PrimaryKeyConstraint("batch", "recipient_id"),
    )
    op.create_index("ix_batchkey_household_id", "batchkey", ["household_id"])
    with op.batch_alter_table("itemkey") as batch_op:
        batch_op.add_column(sa.Column("batch", sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("itemkey") as batch_op:
        batch_op.drop_column("batch")
    op.drop_index("ix_batchkey_household_id", table_name="batchkey")
    op.drop_table("batchkey")
