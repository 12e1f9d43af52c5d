"""files uploaded by outbox rows (monthly statistics: chart and ledger)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 21:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('outbox_files',
    sa.Column('key', sa.String(length=160), nullable=False),
    sa.Column('filename', sa.String(length=128), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_outbox_files'))
    )


def downgrade() -> None:
    op.drop_table('outbox_files')
