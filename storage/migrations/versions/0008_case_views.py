"""case views: who had a brief card's report shown privately (GROUP_CARD_DETAIL=brief)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 22:05:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('case_views',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('telegram_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('chat_id', sa.BigInteger(), nullable=True),
    sa.Column('at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_case_views_report_id_reports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_views'))
    )
    with op.batch_alter_table('case_views', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_views_report_id'), ['report_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('case_views', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_views_report_id'))
    op.drop_table('case_views')
