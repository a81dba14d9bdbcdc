"""reviewers' notes sealed like the items they describe

The tags and summary of a note are sealed with the item's own secret (``vault.notes``), which
this migration cannot hold: no key is ever at hand when the schema changes. So existing notes
keep their words in the renamed plaintext columns ``legacy_tags`` and ``legacy_summary`` until
a holder of the item next reads notes with their key (``vault.notes.seal_legacy``), which seals
and blanks them. Only the go-between mark, which is meant to stay in the clear, is moved here.

Downgrading refuses while any note is sealed: its words cannot be put back in the clear
without a key, and a note is never thrown away.

Revision ID: 0015_sealed_notes
Revises: 0001
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_sealed_notes"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GO_BETWEEN = "go-between"


def _notes(*columns: str) -> sa.TableClause:
    return sa.table(
        "reviewnote",
        sa.column("item_id", sa.Integer()),
        *(sa.column(c, sa.Boolean() if c == "go_between" else sa.String()) for c in columns),
    )


def _tags(text: str | None) -> list[str]:
    try:
        tags = json.loads(text or "[]")
    except json.JSONDecodeError:
        return []
    return [str(t) for t in tags] if isinstance(tags, list) else []


def upgrade() -> None:
    with op.batch_alter_table("reviewnote") as batch_op:
        batch_op.add_column(sa.Column("sealed", sa.LargeBinary(), nullable=True))
        batch_op.add_column(
            sa.Column("go_between", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.alter_column("tags", new_column_name="legacy_tags")
        batch_op.alter_column("summary", new_column_name="legacy_summary")
    conn = op.get_bind()
    t = _notes("legacy_tags", "go_between")
    for item_id, text in conn.execute(sa.select(t.c.item_id, t.c.legacy_tags)).all():
        tags = _tags(text)
        if GO_BETWEEN in tags:
            kept = json.dumps([x for x in tags if x != GO_BETWEEN])
            conn.execute(
                t.update().where(t.c.item_id == item_id).values(go_between=True, legacy_tags=kept)
            )


def downgrade() -> None:
    conn = op.get_bind()
    sealed = sa.table("reviewnote", sa.column("sealed", sa.LargeBinary()))
    count = conn.execute(
        sa.select(sa.func.count()).select_from(sealed).where(sealed.c.sealed.is_not(None))
    ).scalar()
    if count:
        raise RuntimeError(
            f"{count} notes are sealed and cannot be put back in the clear without a key; "
            "not downgrading"
        )
    t = _notes("legacy_tags", "go_between")
    rows = conn.execute(sa.select(t.c.item_id, t.c.legacy_tags).where(t.c.go_between)).all()
    for item_id, text in rows:
        tags = [*_tags(text), GO_BETWEEN]
        conn.execute(t.update().where(t.c.item_id == item_id).values(legacy_tags=json.dumps(tags)))
    with op.batch_alter_table("reviewnote") as batch_op:
        batch_op.alter_column("legacy_summary", new_column_name="summary")
        batch_op.alter_column("legacy_tags", new_column_name="tags")
        batch_op.drop_column("go_between")
        batch_op.drop_column("sealed")
