"""reporting tasks: tasks, their periods per unit, and filings with revisions

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 21:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=True),
    sa.Column('title', sa.String(length=128), nullable=False),
    sa.Column('instructions', sa.Text(), nullable=False),
    sa.Column('template', sa.String(length=32), nullable=True),
    sa.Column('cadence', storage.types.JSONType(), nullable=False),
    sa.Column('scope', storage.types.JSONType(), nullable=False),
    sa.Column('questions', storage.types.JSONType(), nullable=False),
    sa.Column('due_time', sa.String(length=5), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['members.id'], name=op.f('fk_tasks_created_by_members'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tasks')),
    sa.UniqueConstraint('code', name=op.f('uq_tasks_code'))
    )
    op.create_table('task_periods',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('occurrence', sa.String(length=32), nullable=False),
    sa.Column('opens_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Enum('open', 'filed', 'missed', name='task_period_status', native_enum=False, length=8), nullable=False),
    sa.Column('filed_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('missed_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_task_periods_task_id_tasks'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_task_periods_unit_id_units'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_periods')),
    sa.UniqueConstraint('task_id', 'unit_id', 'occurrence', name='uq_task_periods_task_unit_occurrence')
    )
    with op.batch_alter_table('task_periods', schema=None) as batch_op:
        batch_op.create_index('ix_task_periods_status_due', ['status', 'due_at'], unique=False)
        batch_op.create_index('ix_task_periods_unit', ['unit_id'], unique=False)
    op.create_table('task_filings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period_id', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('answers', storage.types.JSONType(), nullable=False),
    sa.Column('attachments', storage.types.JSONType(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('submitted_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.CheckConstraint('revision >= 1', name=op.f('ck_task_filings_task_filing_revision_positive')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_task_filings_member_id_members'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['period_id'], ['task_periods.id'], name=op.f('fk_task_filings_period_id_task_periods'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_filings')),
    sa.UniqueConstraint('period_id', 'revision', name='uq_task_filings_period_revision')
    )


def downgrade() -> None:
    op.drop_table('task_filings')
    with op.batch_alter_table('task_periods', schema=None) as batch_op:
        batch_op.drop_index('ix_task_periods_unit')
        batch_op.drop_index('ix_task_periods_status_due')
    op.drop_table('task_periods')
    op.drop_table('tasks')
