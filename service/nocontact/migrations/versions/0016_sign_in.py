"""sign-in: failed tries counted per account and address; form tokens no longer stored

Revision ID: 0016_sign_in
Revises: 0006_web
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0016_sign_in"
down_revision: str | None = "0006_web"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_s = sqlmodel.sql.sqltypes.AutoString
_t = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "loginthrottle",
        sa.Column("key", _s(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", _t(), nullable=False),
        sa.Column("locked_until", _t(), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("user") as batch_op:
        batch_op.drop_column("failed_logins")
        batch_op.drop_column("locked_until")
    # Form tokens are now derived from the cookie; sessions from before carry none, so they end.
    op.execute("DELETE FROM websession")
    with op.batch_alter_table("websession") as batch_op:
        batch_op.drop_column("csrf")
        batch_op.add_column(sa.Column("device", _s(), nullable=False, server_default=""))


def downgrade() -> None:
    op.execute("DELETE FROM websession")
    with op.batch_alter_table("websession") as batch_op:
        batch_op.drop_column("device")
        batch_op.add_column(sa.Column("csrf", _s(), nullable=False, server_default=""))
    with op.batch_alter_table("user") as batch_op:
        batch_op.add_column(sa.Column("locked_until", _t(), nullable=True))
        batch_op.add_column(
            sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
        )
    op.drop_table("loginthrottle")
