"""sign-off (审签), report versions and marks (待核实, 谎报, 瞒报, 迟报, 解除预警)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 01:15:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('report_signoffs',
    sa.Column('report_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('mode', sa.String(length=8), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('approver_unit_id', sa.Integer(), nullable=True),
    sa.Column('requested_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('released_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('lapsed', sa.Boolean(), nullable=False),
    sa.Column('reminded_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('wait_seconds', sa.Integer(), nullable=False),
    sa.Column('signed_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('signed_by_telegram_id', sa.BigInteger(), nullable=True),
    sa.Column('signed_by_name', sa.String(length=128), nullable=False),
    sa.Column('returned_note', sa.Text(), nullable=False),
    sa.Column('rounds', sa.Integer(), nullable=False),
    sa.CheckConstraint("mode IN ('hold', 'flash')", name=op.f('ck_report_signoffs_mode_known')),
    sa.CheckConstraint("state IN ('waiting', 'returned', 'signed')", name=op.f('ck_report_signoffs_state_known')),
    sa.ForeignKeyConstraint(['approver_unit_id'], ['units.id'], name=op.f('fk_report_signoffs_approver_unit_id_units'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_report_signoffs_report_id_reports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('report_id', name=op.f('pk_report_signoffs'))
    )
    with op.batch_alter_table('report_signoffs', schema=None) as batch_op:
        batch_op.create_index('ix_report_signoffs_due', ['released_at', 'due_at'], unique=False)
    op.create_table('report_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('author_telegram_id', sa.BigInteger(), nullable=True),
    sa.Column('author_name', sa.String(length=128), nullable=False),
    sa.Column('at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('changes', storage.types.JSONType(), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_report_versions_report_id_reports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_versions')),
    sa.UniqueConstraint('report_id', 'number', name='uq_report_versions_report_number')
    )
    op.create_table('report_marks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('actor_telegram_id', sa.BigInteger(), nullable=True),
    sa.Column('actor_name', sa.String(length=128), nullable=False),
    sa.Column('at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('due_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reminded_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('result', sa.Text(), nullable=False),
    sa.Column('resolved_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_by_name', sa.String(length=128), nullable=False),
    sa.CheckConstraint("kind IN ('verify', 'false', 'concealed', 'late', 'lifted')", name=op.f('ck_report_marks_kind_known')),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_report_marks_report_id_reports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_marks'))
    )
    with op.batch_alter_table('report_marks', schema=None) as batch_op:
        batch_op.create_index('ix_report_marks_open', ['kind', 'resolved_at', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_marks_report_id'), ['report_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('report_marks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_marks_report_id'))
        batch_op.drop_index('ix_report_marks_open')
    op.drop_table('report_marks')
    op.drop_table('report_versions')
    with op.batch_alter_table('report_signoffs', schema=None) as batch_op:
        batch_op.drop_index('ix_report_signoffs_due')
    op.drop_table('report_signoffs')
