"""sms: forward claims

Revision ID: 0004_sms
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0004_sms"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "smsforward",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("source_key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("claimed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("sent_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["household_id"], ["household.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("household_id", "source_key"),
    )
    with op.batch_alter_table("smsforward", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_smsforward_household_id"), ["household_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("smsforward", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_smsforward_household_id"))
    op.drop_table("smsforward")
