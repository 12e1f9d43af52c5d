"""case cards record the unit they were sent for

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 21:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('case_cards', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unit_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_case_cards_unit_id_units'), 'units', ['unit_id'], ['id'],
                                    ondelete='SET NULL')
    # Existing copies: a group's card belongs to the unit the group is bound to now (the best
    # record there is), a private copy to the reporter's unit.
    op.execute(
        "UPDATE case_cards SET unit_id = (SELECT group_chats.unit_id FROM group_chats "
        "WHERE group_chats.chat_id = case_cards.chat_id) WHERE case_cards.chat_id < 0")
    op.execute(
        "UPDATE case_cards SET unit_id = (SELECT reports.unit_id FROM reports "
        "WHERE reports.id = case_cards.report_id) WHERE case_cards.chat_id > 0")


def downgrade() -> None:
    with op.batch_alter_table('case_cards', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_case_cards_unit_id_units'), type_='foreignkey')
        batch_op.drop_column('unit_id')
