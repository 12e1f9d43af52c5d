"""public-opinion cases (舆情处置), their monitoring and consultation entries, evaluations (总结评估)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 01:15:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('opinion_cases',
    sa.Column('report_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('opened_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('statement', sa.Text(), nullable=True),
    sa.Column('drafted_by', sa.String(length=128), nullable=False),
    sa.Column('drafted_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('approved_by', sa.String(length=128), nullable=False),
    sa.Column('approved_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reply', sa.Text(), nullable=True),
    sa.Column('replied_by', sa.String(length=128), nullable=False),
    sa.Column('replied_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('subsided_by', sa.String(length=128), nullable=False),
    sa.Column('subsided_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_opinion_cases_report_id_reports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('report_id', name=op.f('pk_opinion_cases'))
    )
    op.create_table('opinion_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('author_telegram_id', sa.BigInteger(), nullable=False),
    sa.Column('author_name', sa.String(length=128), nullable=False),
    sa.Column('at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('links', storage.types.JSONType(), nullable=False),
    sa.Column('figures', storage.types.JSONType(), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_opinion_entries_report_id_reports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_opinion_entries'))
    )
    with op.batch_alter_table('opinion_entries', schema=None) as batch_op:
        batch_op.create_index('ix_opinion_entries_report_at', ['report_id', 'at'], unique=False)
    op.create_table('evaluations',
    sa.Column('report_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('answers', storage.types.JSONType(), nullable=False),
    sa.Column('filed_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('filed_by_telegram_id', sa.BigInteger(), nullable=True),
    sa.Column('filed_by', sa.String(length=128), nullable=False),
    sa.Column('escalated_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('escalated_to_unit_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['escalated_to_unit_id'], ['units.id'], name=op.f('fk_evaluations_escalated_to_unit_id_units'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_evaluations_report_id_reports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('report_id', name=op.f('pk_evaluations'))
    )
    with op.batch_alter_table('evaluations', schema=None) as batch_op:
        batch_op.create_index('ix_evaluations_open', ['filed_at', 'due_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('evaluations', schema=None) as batch_op:
        batch_op.drop_index('ix_evaluations_open')
    op.drop_table('evaluations')
    with op.batch_alter_table('opinion_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_opinion_entries_report_at')
    op.drop_table('opinion_entries')
    op.drop_table('opinion_cases')
