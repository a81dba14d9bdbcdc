"""web: sessions, TOTP recovery codes and replay guard, notification preferences

Revision ID: 0006_web
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0006_web"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_s = sqlmodel.sql.sqltypes.AutoString
_t = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "websession",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", _s(), nullable=False),
        sa.Column("household_id", sa.Integer(), sa.ForeignKey("household.id"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("user.id"), nullable=False),
        sa.Column("csrf", _s(), nullable=False),
        sa.Column("mfa_pending", sa.Boolean(), nullable=False),
        sa.Column("created_at", _t(), nullable=False),
        sa.Column("last_seen", _t(), nullable=False),
        sa.Column("stepped_up_at", _t(), nullable=True),
        sa.Column("vault_opens_at", _t(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_websession_token_hash", "websession", ["token_hash"], unique=True)
    op.create_index("ix_websession_household_id", "websession", ["household_id"])
    op.create_index("ix_websession_user_id", "websession", ["user_id"])
    op.create_table(
        "recoverycode",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("user.id"), nullable=False),
        sa.Column("code_hash", _s(), nullable=False),
        sa.Column("used_at", _t(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_recoverycode_user_id", "recoverycode", ["user_id"])
    op.create_table(
        "notifyprefs",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("user.id"), nullable=False),
        sa.Column("email", _s(), nullable=False),
        sa.Column("digest", _s(), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("last_digest_at", _t(), nullable=True),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "totpuse",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("user.id"), nullable=False),
        sa.Column("last_step", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
    )


def downgrade() -> None:
    op.drop_table("totpuse")
    op.drop_table("notifyprefs")
    op.drop_index("ix_recoverycode_user_id", table_name="recoverycode")
    op.drop_table("recoverycode")
    op.drop_index("ix_websession_user_id", table_name="websession")
    op.drop_index("ix_websession_household_id", table_name="websession")
    op.drop_index("ix_websession_token_hash", table_name="websession")
    op.drop_table("websession")
