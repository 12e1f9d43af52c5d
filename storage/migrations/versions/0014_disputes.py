"""disputes: the intake register, mediation attempts, timeline, cards, supervisions, transfers

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 00:57:39.043962
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('disputes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('intake_unit_id', sa.Integer(), nullable=False),
    sa.Column('registered_by', sa.Integer(), nullable=True),
    sa.Column('matter', sa.Text(), nullable=False),
    sa.Column('parties_count', sa.Integer(), nullable=False),
    sa.Column('parties_kind', sa.String(length=16), nullable=False),
    sa.Column('level', sa.SmallInteger(), nullable=False),
    sa.Column('major', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('level_unit_id', sa.Integer(), nullable=False),
    sa.Column('leader_id', sa.Integer(), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('deadline_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('assigned_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('proposal', storage.types.JSONType(), nullable=False),
    sa.Column('result', sa.Text(), nullable=False),
    sa.Column('result_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('result_due_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('result_reminded_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('card_version', sa.Integer(), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('level BETWEEN 1 AND 4', name=op.f('ck_disputes_dispute_level_range')),
    sa.CheckConstraint('parties_count >= 1', name=op.f('ck_disputes_parties_positive')),
    sa.ForeignKeyConstraint(['intake_unit_id'], ['units.id'], name=op.f('fk_disputes_intake_unit_id_units'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['leader_id'], ['members.id'], name=op.f('fk_disputes_leader_id_members'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['level_unit_id'], ['units.id'], name=op.f('fk_disputes_level_unit_id_units'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['registered_by'], ['members.id'], name=op.f('fk_disputes_registered_by_members'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_disputes_report_id_reports'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_disputes_unit_id_units'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disputes')),
    sa.UniqueConstraint('report_id', name=op.f('uq_disputes_report_id'))
    )
    with op.batch_alter_table('disputes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disputes_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_disputes_intake_unit_id'), ['intake_unit_id'], unique=False)
        batch_op.create_index('ix_disputes_result_due', ['result_at', 'result_due_at'], unique=False)

    op.create_table('dispute_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dispute_id', sa.Integer(), nullable=False),
    sa.Column('level_unit_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.SmallInteger(), nullable=False),
    sa.Column('at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('mediator', sa.String(length=128), nullable=False),
    sa.Column('method', sa.String(length=255), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('recorded_by', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['dispute_id'], ['disputes.id'], name=op.f('fk_dispute_attempts_dispute_id_disputes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['level_unit_id'], ['units.id'], name=op.f('fk_dispute_attempts_level_unit_id_units'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispute_attempts')),
    sa.UniqueConstraint('dispute_id', 'level_unit_id', 'number', name='uq_dispute_attempts_level_number')
    )
    op.create_table('dispute_cards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dispute_id', sa.Integer(), nullable=False),
    sa.Column('chat_id', sa.BigInteger(), nullable=False),
    sa.Column('key', sa.String(length=160), nullable=False),
    sa.ForeignKeyConstraint(['dispute_id'], ['disputes.id'], name=op.f('fk_dispute_cards_dispute_id_disputes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispute_cards')),
    sa.UniqueConstraint('dispute_id', 'chat_id', name='uq_dispute_cards_dispute_chat')
    )
    op.create_table('dispute_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dispute_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('actor_telegram_id', sa.BigInteger(), nullable=True),
    sa.Column('actor_name', sa.String(length=128), nullable=False),
    sa.Column('at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('details', storage.types.JSONType(), nullable=False),
    sa.ForeignKeyConstraint(['dispute_id'], ['disputes.id'], name=op.f('fk_dispute_events_dispute_id_disputes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispute_events'))
    )
    with op.batch_alter_table('dispute_events', schema=None) as batch_op:
        batch_op.create_index('ix_dispute_events_dispute_at', ['dispute_id', 'at'], unique=False)

    op.create_table('supervisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dispute_id', sa.Integer(), nullable=True),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('by_unit_id', sa.Integer(), nullable=False),
    sa.Column('by_telegram_id', sa.BigInteger(), nullable=False),
    sa.Column('by_name', sa.String(length=128), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reminded_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('settled_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('(dispute_id IS NULL) <> (report_id IS NULL)', name=op.f('ck_supervisions_supervision_one_subject')),
    sa.ForeignKeyConstraint(['by_unit_id'], ['units.id'], name=op.f('fk_supervisions_by_unit_id_units'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['dispute_id'], ['disputes.id'], name=op.f('fk_supervisions_dispute_id_disputes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_supervisions_report_id_reports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervisions'))
    )
    with op.batch_alter_table('supervisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_supervisions_dispute_id'), ['dispute_id'], unique=False)
        batch_op.create_index('ix_supervisions_open', ['settled_at', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_supervisions_report_id'), ['report_id'], unique=False)

    op.create_table('transfers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dispute_id', sa.Integer(), nullable=True),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('by_telegram_id', sa.BigInteger(), nullable=False),
    sa.Column('by_name', sa.String(length=128), nullable=False),
    sa.Column('at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('feedback', sa.Text(), nullable=False),
    sa.Column('feedback_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('feedback_by', sa.String(length=128), nullable=False),
    sa.Column('reminded_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('(dispute_id IS NULL) <> (report_id IS NULL)', name=op.f('ck_transfers_transfer_one_subject')),
    sa.ForeignKeyConstraint(['department_id'], ['units.id'], name=op.f('fk_transfers_department_id_units'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['dispute_id'], ['disputes.id'], name=op.f('fk_transfers_dispute_id_disputes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_transfers_report_id_reports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transfers'))
    )
    with op.batch_alter_table('transfers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_transfers_dispute_id'), ['dispute_id'], unique=False)
        batch_op.create_index('ix_transfers_open', ['feedback_at', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_transfers_report_id'), ['report_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('transfers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_transfers_report_id'))
        batch_op.drop_index('ix_transfers_open')
        batch_op.drop_index(batch_op.f('ix_transfers_dispute_id'))

    op.drop_table('transfers')
    with op.batch_alter_table('supervisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_supervisions_report_id'))
        batch_op.drop_index('ix_supervisions_open')
        batch_op.drop_index(batch_op.f('ix_supervisions_dispute_id'))

    op.drop_table('supervisions')
    with op.batch_alter_table('dispute_events', schema=None) as batch_op:
        batch_op.drop_index('ix_dispute_events_dispute_at')

    op.drop_table('dispute_events')
    op.drop_table('dispute_cards')
    op.drop_table('dispute_attempts')
    with op.batch_alter_table('disputes', schema=None) as batch_op:
        batch_op.drop_index('ix_disputes_result_due')
        batch_op.drop_index(batch_op.f('ix_disputes_intake_unit_id'))
        batch_op.drop_index(batch_op.f('ix_disputes_created_at'))

    op.drop_table('disputes')
