"""The organisation file names who goes to the scene (`scene_duty` on a member entry): read
into the membership, changed on a later import, exported back, and checked."""

from __future__ import annotations

import pytest
import yaml
from sqlalchemy import select

from bot.config import load_settings
from bot.org import OrgFileError, export_org, import_org_file, parse_org
from storage.models import Member, Membership


def unit(code: str, **keys) -> dict:
    return {"code": code, "name": f"单位{code}", **keys}


def person(telegram_id: int, name: str, role: str, **keys) -> dict:
    return {"telegram_id": telegram_id, "name": name, "role": role, **keys}


def org_text(*units: dict) -> str:
    return yaml.safe_dump({"units": list(units)}, allow_unicode=True, sort_keys=False)


async def import_text(db, tmp_path, text: str):
    path = tmp_path / "org.yaml"
    path.write_text(text, encoding="utf-8")
    return await import_org_file(db, path, settings=load_settings(_env_file=None))


async def duties(db) -> dict[int, str | None]:
    async with db.session() as session:
        rows = await session.execute(select(Member.telegram_id, Membership.duty)
                                     .join(Membership, Membership.member_id == Member.id))
        return dict(rows.all())


class TestSceneDuty:
    async def test_read_changed_and_exported(self, db, tmp_path):
        await import_text(db, tmp_path, org_text(unit("S01", members=[
            person(1, "王", "leader", scene_duty="principal_leader"), person(2, "李", "leader")])))
        assert await duties(db) == {1: "principal_leader", 2: None}
        await import_text(db, tmp_path, org_text(unit("S01", members=[
            person(1, "王", "leader"), person(2, "李", "leader", scene_duty="leader_in_charge")])))
        assert await duties(db) == {1: None, 2: "leader_in_charge"}
        async with db.session() as session:
            exported = await export_org(session)
        assert "scene_duty: leader_in_charge" in exported
        assert not await import_text(db, tmp_path, exported)

    @pytest.mark.parametrize("value", ["boss", "包案人", ""])
    def test_an_unknown_duty_is_refused_with_its_line(self, value):
        with pytest.raises(OrgFileError) as info:
            parse_org(org_text(unit("S01", members=[person(1, "王", "leader", scene_duty=value)])))
        assert "scene_duty" in str(info.value)
