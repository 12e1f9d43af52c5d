"""case chase: deadlines chased round after round, duties on the scene, follow-up files

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 01:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('case_deadlines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chase_round', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('next_chase_at', storage.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_case_deadlines_chase', ['settled_at', 'next_chase_at'], unique=False)
    # Deadlines escalated once before the chase existed: their second round is due now.
    op.execute("UPDATE case_deadlines SET chase_round = 1, next_chase_at = escalated_at "
               "WHERE escalated_at IS NOT NULL AND settled_at IS NULL")
    op.execute("UPDATE case_deadlines SET chase_round = 1 WHERE escalated_at IS NOT NULL AND settled_at IS NOT NULL")
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.add_column(sa.Column('duty', sa.String(length=24), nullable=True))
    with op.batch_alter_table('case_followups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('files', storage.types.JSONType(), nullable=True))
        batch_op.add_column(sa.Column('location', storage.types.JSONType(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('case_followups', schema=None) as batch_op:
        batch_op.drop_column('location')
        batch_op.drop_column('files')
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.drop_column('duty')
    with op.batch_alter_table('case_deadlines', schema=None) as batch_op:
        batch_op.drop_index('ix_case_deadlines_chase')
        batch_op.drop_column('next_chase_at')
        batch_op.drop_column('chase_round')
