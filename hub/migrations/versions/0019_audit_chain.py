"""the audit log as a hash chain

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-26 13:20:00

Adds seq, prev_hash and hash to audit_log and fills them over the entries already there, in id order, a chunk at a
time (the memory used does not grow with the log); adds the one-row head audit_head; and adds triggers that
refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) of audit entries, and any move of the head but forward.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

from hub.core.audit_chain import GENESIS, entry_hash

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

CHUNK = 2000
TS = sa.DateTime(timezone=True)

_log = sa.table("audit_log", sa.column("id", sa.BigInteger()), sa.column("at", TS), sa.column("actor", sa.String()),
                sa.column("action", sa.String()), sa.column("target", sa.String()), sa.column("detail", sa.Text()),
                sa.column("seq", sa.BigInteger()), sa.column("prev_hash", sa.String()),
                sa.column("hash", sa.String()))

REFUSED = "audit_log is append-only"

PG_TRIGGERS = [
    f"""CREATE FUNCTION audit_log_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{REFUSED}: % refused', TG_OP USING ERRCODE = 'integrity_constraint_violation';
    END $$""",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_refuse()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse()",
    """CREATE FUNCTION audit_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' AND NEW.id = OLD.id AND NEW.chain = OLD.chain AND NEW.seq >= OLD.seq THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'audit_head only moves forward: % refused', TG_OP
            USING ERRCODE = 'integrity_constraint_violation';
    END $$""",
    "CREATE TRIGGER audit_head_forward BEFORE UPDATE OR DELETE ON audit_head "
    "FOR EACH ROW EXECUTE FUNCTION audit_head_forward()",
    "CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_head_forward()",
]
PG_DROP = [
    "DROP TRIGGER IF EXISTS audit_head_no_truncate ON audit_head",
    "DROP TRIGGER IF EXISTS audit_head_forward ON audit_head",
    "DROP FUNCTION IF EXISTS audit_head_forward()",
    "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log",
    "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
    "DROP FUNCTION IF EXISTS audit_log_refuse()",
]
SQLITE_TRIGGERS = [
    f"CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    f"BEGIN SELECT RAISE(ABORT, '{REFUSED}: UPDATE refused'); END",
    f"CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    f"BEGIN SELECT RAISE(ABORT, '{REFUSED}: DELETE refused'); END",
    "CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head "
    "BEGIN SELECT RAISE(ABORT, 'audit_head only moves forward: DELETE refused'); END",
    "CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head "
    "WHEN NEW.id IS NOT OLD.id OR NEW.chain IS NOT OLD.chain OR NEW.seq < OLD.seq "
    "BEGIN SELECT RAISE(ABORT, 'audit_head only moves forward: UPDATE refused'); END",
]
SQLITE_DROP = [f"DROP TRIGGER IF EXISTS {name}" for name in (
    "audit_head_forward", "audit_head_no_delete", "audit_log_no_delete", "audit_log_no_update")]


def _backfill(bind: sa.Connection) -> tuple[int, str]:
    """Chain the existing entries in id order, CHUNK rows at a time; the last seq and hash."""
    seq, prev, after = 0, GENESIS, None
    cols = [_log.c.id, _log.c.at, _log.c.actor, _log.c.action, _log.c.target, _log.c.detail]
    change = sa.update(_log).where(_log.c.id == sa.bindparam("b_id")).values(
        seq=sa.bindparam("b_seq"), prev_hash=sa.bindparam("b_prev"), hash=sa.bindparam("b_hash"))
    while True:
        q = sa.select(*cols).order_by(_log.c.id).limit(CHUNK)
        if after is not None:
            q = q.where(_log.c.id > after)
        rows = bind.execute(q).all()
        if not rows:
            return seq, prev
        values = []
        for r in rows:
            seq += 1
            h = entry_hash(seq=seq, at=r.at, actor=r.actor, action=r.action, target=r.target, detail=r.detail,
                           prev_hash=prev)
            values.append({"b_id": r.id, "b_seq": seq, "b_prev": prev, "b_hash": h})
            prev = h
        bind.execute(change, values)
        after = rows[-1].id


def upgrade() -> None:
    bind = op.get_bind()
    op.add_column("audit_log", sa.Column("seq", sa.BigInteger(), nullable=True))
    op.add_column("audit_log", sa.Column("prev_hash", sa.String(64), nullable=True))
    op.add_column("audit_log", sa.Column("hash", sa.String(64), nullable=True))
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("chain", sa.String(32), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_audit_head_one_row"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    seq, last = _backfill(bind)
    bind.execute(sa.text("INSERT INTO audit_head (id, seq, hash, chain) VALUES (1, :seq, :hash, :chain)"),
                 {"seq": seq, "hash": last, "chain": uuid.uuid4().hex})
    with op.batch_alter_table("audit_log") as b:
        b.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)
        b.alter_column("prev_hash", existing_type=sa.String(64), nullable=False)
        b.alter_column("hash", existing_type=sa.String(64), nullable=False)
    op.create_index("ix_audit_log_seq", "audit_log", ["seq"], unique=True)
    for statement in PG_TRIGGERS if bind.dialect.name == "postgresql" else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    for statement in PG_DROP if bind.dialect.name == "postgresql" else SQLITE_DROP:
        op.execute(statement)
    op.drop_index("ix_audit_log_seq", table_name="audit_log")
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_log") as b:
        b.drop_column("hash")
        b.drop_column("prev_hash")
        b.drop_column("seq")
