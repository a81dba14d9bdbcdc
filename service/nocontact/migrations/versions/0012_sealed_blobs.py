"""small sealed originals kept in the database

Revision ID: 0012_sealed_blobs
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0012_sealed_blobs"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sealedblob",
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["household_id"], ["household.id"]),
        sa.PrimaryKeyConstraint("address"),
    )
    op.create_index("ix_sealedblob_household_id", "sealedblob", ["household_id"])


def downgrade() -> None:
    op.drop_index("ix_sealedblob_household_id", table_name="sealedblob")
    op.drop_table("sealedblob")
