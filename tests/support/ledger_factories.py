"""A month of cases and daily reports for the ledger and statistics tests.

November 2026 in the standard tree (D01 → S01 → C01, C02) plus a second district D02 that
the street's leader must never see: five cases in scope with receipts, an arrival, an
adoption, an instruction and a level change, one case outside the month, and daily reports
(on time, zero, late).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from storage.db import Database
from storage.models import (
    CaseEvent,
    CaseFile,
    CaseReceipt,
    CaseStatus,
    Category,
    DailyKind,
    Report,
    Role,
)
from tests.support.daily_factories import ReportFactory, backdate_units, local
from tests.support.factories import OrgFactory, Tree

MONTH = ("2026-11-01", "2026-11-30")


@dataclass
class Month:
    tree: Tree
    reports: dict[str, Report] = field(default_factory=dict)
    outsider: int = 5001          # leader of D02 only


async def november(db: Database, org: OrgFactory) -> Month:
    tree = await org.tree()
    tree.units["D02"] = await org.unit("D02", "西城区", "district", group_chat_id=-1009)
    await org.member(5001, tree.units["D02"], Role.LEADER, name="西城领导")
    month = Month(tree)
    factory, units = ReportFactory(db), tree.units
    plan = {
        "c01_dispute": (units["C01"], "2026-11-03", "10:00", 3, Category.DISPUTE, CaseStatus.RECEIVED),
        "c01_major": (units["C01"], "2026-11-05", "09:00", 1, Category.DISPUTE, CaseStatus.ON_SCENE),
        "c02_other": (units["C02"], "2026-11-10", "15:00", 4, Category.OTHER, CaseStatus.REPORTED),
        "s01_petition": (units["S01"], "2026-11-12", "11:00", 2, Category.PETITION, CaseStatus.CLOSED),
        "c02_opinion": (units["C02"], "2026-11-30", "23:30", 3, Category.PUBLIC_OPINION, CaseStatus.REJECTED),
        "d02_dispute": (units["D02"], "2026-11-04", "10:00", 3, Category.DISPUTE, CaseStatus.REPORTED),
        "c01_december": (units["C01"], "2026-12-01", "08:00", 4, Category.OTHER, CaseStatus.REPORTED),
    }
    for key, (unit, day, clock, level, category, status) in plan.items():
        month.reports[key] = await factory.report(unit, local(day, clock), level=level, category=category,
                                                  title=f"标题{key}", status=status)
    await _history(db, month)
    await _dailies(factory, tree)
    await backdate_units(db)
    return month


async def _history(db: Database, month: Month) -> None:
    dispute, major, petition = (month.reports[k] for k in ("c01_dispute", "c01_major", "s01_petition"))
    async with db.session() as session:
        session.add_all([
            CaseReceipt(report_id=dispute.id, telegram_id=1002, name="和平街道领导", at=dispute.created_at + timedelta(minutes=5)),
            CaseReceipt(report_id=major.id, telegram_id=1001, name="东城区领导", at=major.created_at + timedelta(minutes=8)),
            CaseReceipt(report_id=major.id, telegram_id=1002, name="和平街道领导", at=major.created_at + timedelta(minutes=12)),
            CaseEvent(report_id=major.id, kind="arrive", actor_name="和平街道领导", at=major.created_at + timedelta(minutes=40)),
            CaseEvent(report_id=major.id, kind="regrade", actor_name="", at=major.created_at + timedelta(minutes=30),
                      details={"old": 2, "new": 1}),
            CaseEvent(report_id=dispute.id, kind="adopt", actor_telegram_id=1001, actor_name="东城区领导",
                      at=dispute.created_at + timedelta(hours=2), details={"unit_id": month.tree.units["D01"].id, "unit": "东城区"}),
            CaseEvent(report_id=dispute.id, kind="instruct", actor_telegram_id=1001, actor_name="东城区领导",
                      at=dispute.created_at + timedelta(hours=3), reason="妥善处置，及时续报"),
            CaseFile(report_id=petition.id, outcome="已调解完毕", closed_at=petition.created_at + timedelta(hours=5),
                     extra_unit_ids=[], card_version=0, opened_at=petition.created_at),
        ])


async def _dailies(factory: ReportFactory, tree: Tree) -> None:
    await factory.daily(tree.units["C01"], local("2026-11-02", "10:00"), DailyKind.ZERO)
    await factory.daily(tree.units["C02"], local("2026-11-02", "18:00"), DailyKind.ZERO)
    await factory.daily(tree.units["S01"], local("2026-11-02", "16:00"), DailyKind.ITEMS)
