"""Organisation files: parsing with line-numbered errors, upserting, pruning, export round trips."""

from __future__ import annotations

import asyncio
import re
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

import bot.org.apply
from bot import i18n
from bot.org import (
    MemberSpec,
    OrgChanges,
    OrgFileError,
    OrgSpec,
    UnitSpec,
    apply_org,
    dump_org,
    export_org,
    import_org_file,
    parse_org,
)
from storage.db import Database
from storage.models import AuditLog, Base, GroupChat, Member, Membership, Role, Unit
from tests.support.daily_factories import daily_settings

# The documentation's own example, so the manual can never drift from what parses.
MANUAL = Path(__file__).resolve().parent.parent / "docs" / "org-file.md"
EXAMPLE = re.search(r"```yaml\n(.*?)```", MANUAL.read_text(encoding="utf-8"), re.S).group(1)


# A file with one unit whose single member is the "%s", on line 6.
MEMBER = "units:\n  - code: A\n    name: 甲\n    members:\n      - {telegram_id: 9, name: 丙}\n      - %s  #<\n"

# --- factories ------------------------------------------------------------------------------


def unit(code: str, name: str | None = None, **keys) -> dict:
    """A unit as it appears in a file; keys passed through so tests can break them."""
    return {"code": code, "name": name or f"单位{code}", **keys}


def person(telegram_id: int, name: str | None = None, role: str = "reporter", **keys) -> dict:
    return {"telegram_id": telegram_id, "name": name or f"成员{telegram_id}", "role": role, **keys}


def org_text(*units: dict) -> str:
    return yaml.safe_dump({"units": list(units)}, allow_unicode=True, sort_keys=False)


def small_org(**street_keys) -> str:
    """D01 > S01 > C01, with a leader, a reporter and one group chat."""
    community = unit("C01", kind="community", members=[person(3001)])
    street = unit("S01", kind="street", children=[community], **street_keys)
    return org_text(
        unit(
            "D01",
            kind="district",
            group_chat_id=-1001,
            members=[person(1001, role="leader")],
            children=[street],
        )
    )


async def add_unit(db: Database, code: str, parent: str | None = None) -> None:
    async with db.session() as s:
        parent_id = (
            (await s.execute(select(Unit.id).where(Unit.code == parent))).scalar_one()
            if parent
            else None
        )
        s.add(Unit(code=code, name=code, kind="unit", parent_id=parent_id))


async def add_member(
    db: Database, telegram_id: int, unit_code: str, role: Role = Role.REPORTER, **cols
) -> None:
    async with db.session() as s:
        unit_id = (await s.execute(select(Unit.id).where(Unit.code == unit_code))).scalar_one()
        member = (
            await s.execute(select(Member).where(Member.telegram_id == telegram_id))
        ).scalar_one_or_none()
        if member is None:
            member = Member(
                telegram_id=telegram_id, name=cols.pop("name", str(telegram_id)), **cols
            )
            s.add(member)
            await s.flush()
        s.add(Membership(member_id=member.id, unit_id=unit_id, role=role))


async def add_group(db: Database, chat_id: int, unit_code: str, title: str = "") -> None:
    async with db.session() as s:
        unit_id = (await s.execute(select(Unit.id).where(Unit.code == unit_code))).scalar_one()
        s.add(GroupChat(chat_id=chat_id, unit_id=unit_id, title=title))


async def import_text(db: Database, tmp_path: Path, text: str, **kwargs) -> OrgChanges:
    path = tmp_path / "org.yaml"
    path.write_text(text, encoding="utf-8")
    return await import_org_file(db, path, settings=daily_settings(), **kwargs)


async def snapshot(db: Database) -> dict:
    """Everything an import may touch, in a comparable form."""
    async with db.session() as s:
        units = (await s.execute(select(Unit))).scalars().all()
        code = {u.id: u.code for u in units}
        members = (
            (await s.execute(select(Member).options(selectinload(Member.memberships))))
            .scalars()
            .all()
        )
        groups = (await s.execute(select(GroupChat))).scalars().all()
        audits = (await s.execute(select(func.count()).select_from(AuditLog))).scalar_one()
    return {
        "units": {u.code: (u.name, u.kind, code.get(u.parent_id)) for u in units},
        "members": {m.telegram_id: (m.name, m.phone, m.locale) for m in members},
        "memberships": {
            (m.telegram_id, code[ms.unit_id], ms.role) for m in members for ms in m.memberships
        },
        "groups": {g.chat_id: code[g.unit_id] for g in groups},
        "audits": audits,
    }


async def create_schema(db: Database) -> None:
    async with db.engine.begin() as c:
        await c.run_sync(Base.metadata.create_all)


@pytest.fixture(autouse=True)
def _english():
    """The expected messages below are the English msgids; the bot's default is zh_Hans."""
    with i18n.use_locale("en"):
        yield


def errors_of(text: str) -> list[tuple[int | None, str]]:
    with pytest.raises(OrgFileError) as info:
        parse_org(text)
    return info.value.errors


# --- parsing --------------------------------------------------------------------------------


class TestParseOrg:
    def test_documented_example_parses_into_the_tree(self):
        spec = parse_org(EXAMPLE)
        codes = [(u.code, p.code if p else None) for u, p in spec.walk()]
        assert codes == [
            ("D01", None),
            ("S01", "D01"),
            ("C01", "S01"),
            ("C02", "S01"),
            ("S02", "D01"),
            ("C03", "S02"),
        ]
        district = spec.units[0]
        assert (district.name, district.kind, district.group_chat_ids) == (
            "东城区",
            "district",
            (-1001000000001,),
        )
        assert district.members[0] == MemberSpec(1001, "王主任", Role.LEADER, "13800000000")

    def test_defaults_for_kind_and_role(self):
        spec = parse_org(org_text(unit("X", members=[{"telegram_id": 5, "name": "甲"}])))
        assert spec.units[0].kind == "unit"
        assert spec.units[0].members[0].role is Role.REPORTER

    def test_unquoted_phone_keeps_what_was_typed(self):
        # YAML 1.1 would read 010… as an octal number; the literal text is what was meant.
        text = "units:\n  - code: A\n    name: 甲\n    members:\n      - {telegram_id: 1, name: 乙, phone: 01062345678}\n"
        assert parse_org(text).units[0].members[0].phone == "01062345678"

    def test_person_in_two_units_and_several_roots(self):
        spec = parse_org(
            org_text(
                unit("A", members=[person(7, "王", "leader", phone="1")]),
                unit("B", members=[person(7, "王", "reporter")]),
            )
        )
        assert [(u.code, u.members[0].role) for u in spec.units] == [
            ("A", Role.LEADER),
            ("B", Role.REPORTER),
        ]

    def test_several_group_chats_as_a_list(self):
        assert parse_org(org_text(unit("A", group_chat_id=[-1, -2]))).units[0].group_chat_ids == (
            -1,
            -2,
        )

    def test_every_error_is_reported_not_just_the_first(self):
        text = org_text(unit("A", nmae="x"), unit("A", members=[person(1, role="boss")]))
        lines = [line for line, _ in errors_of(text)]
        assert len(lines) == 3 and lines == sorted(lines)

    def test_error_string_has_one_line_per_error(self):
        text = org_text(unit("A", nmae="x"), unit("B", kindd="y"))
        assert str(OrgFileError(errors_of(text))).splitlines() == [
            "line 4: unknown key 'nmae' (did you mean 'name'?)",
            "line 7: unknown key 'kindd' (did you mean 'kind'?)",
        ]

    # Each file marks the line the error must point at with "#<" (no marker: no line).
    INVALID = {
        "yaml syntax": (
            "units:\n  - code: A\n    name: [oops\n  - code: B  #<\n",
            "YAML syntax error",
        ),
        "yaml tab": ("units:\n\t- code: A  #<\n", "YAML syntax error"),
        "two documents": ("units: []\n---  #<\nunits: []\n", "YAML syntax error"),
        "empty file": ("# nothing here\n", "empty"),
        "not a mapping": ("- code: A  #<\n", "top-level 'units'"),
        "misspelt units": ("unitz: []  #<\n", "did you mean 'units'"),
        "duplicate code": (
            """
            units:
              - {code: A, name: 甲}
              - code: B
                name: 乙
                children:
                  - code: A  #<
                    name: 丙
            """,
            "unit code 'A' is already used on line 3",
        ),
        "bad code": ("units:\n  - code: A B  #<\n    name: 甲\n", "letters, digits"),
        "long code": ("units:\n  - code: %s  #<\n    name: 甲\n" % ("A" * 33), "1 to 32"),
        "unknown key": (
            "units:\n  - code: A\n    nmae: 甲  #<\n",
            "unknown key 'nmae' (did you mean 'name'?)",
        ),
        "unknown member key": (
            """
            units:
              - code: A
                name: 甲
                members:
                  - telegram_id: 1
                    name: 乙
                    rol: leader  #<
            """,
            "unknown key 'rol' (did you mean 'role'?)",
        ),
        "duplicate key": ("units:\n  - code: A\n    name: 甲\n    name: 乙  #<\n", "appears twice"),
        "missing name": (
            "units:\n  - code: A\n    name: 甲\n  - code: B  #<\n",
            "missing required key 'name'",
        ),
        "long name": ("units:\n  - code: A\n    name: %s  #<\n" % ("名" * 129), "1 to 128"),
        "bad role": (
            """
            units:
              - code: A
                name: 甲
                members:
                  - {telegram_id: 1, name: 乙, role: reporter}
                  - {telegram_id: 2, name: 丙, role: boss}  #<
            """,
            "role must be one of: reporter, leader, admin",
        ),
        "negative telegram_id": (MEMBER % "{telegram_id: -5, name: 乙}", "positive integer"),
        "text telegram_id": (MEMBER % "{telegram_id: '5', name: 乙}", "positive integer"),
        "float telegram_id": (MEMBER % "{telegram_id: 1.5, name: 乙}", "positive integer"),
        "huge telegram_id": (
            MEMBER % "{telegram_id: 99999999999999999999, name: 乙}",
            "positive integer",
        ),
        "missing telegram_id": (MEMBER % "{name: 乙}", "missing required key 'telegram_id'"),
        "bad locale": (MEMBER % "{telegram_id: 1, name: 乙, locale: fr}", "zh_Hans, zh_Hant, en"),
        "members not a list": (
            "units:\n  - code: A\n    name: 甲\n    members: {telegram_id: 1}  #<\n",
            "'members' must be a list",
        ),
        "unit not a mapping": ("units:\n  - A  #<\n", "expected a unit"),
        "positive group id": (
            "units:\n  - code: A\n    name: 甲\n    group_chat_id: 5  #<\n",
            "negative integer",
        ),
        "duplicate group id": (
            """
            units:
              - {code: A, name: 甲, group_chat_id: -9}
              - {code: B, name: 乙, group_chat_id: [-8, -9]}  #<
            """,
            "group chat -9 is already given on line 3",
        ),
        "conflicting person name": (
            """
            units:
              - code: A
                name: 甲
                members: [{telegram_id: 1, name: 王}]
              - code: B
                name: 乙
                members:
                  - {telegram_id: 1, name: 汪}  #<
            """,
            "person 1 has name '汪' here but '王' on line 5",
        ),
        "conflicting phone": (
            """
            units:
              - {code: A, name: 甲, members: [{telegram_id: 1, name: 王, phone: "1"}]}
              - {code: B, name: 乙, members: [{telegram_id: 1, name: 王}]}
              - code: C
                name: 丙
                members:
                  - {telegram_id: 1, name: 王, phone: "2"}  #<
            """,
            "person 1 has phone '2' here but '1' on line 3",
        ),
        "person twice in a unit": (
            """
            units:
              - code: A
                name: 甲
                members:
                  - {telegram_id: 1, name: 王}
                  - {telegram_id: 1, name: 王, role: leader}  #<
            """,
            "person 1 is listed twice in unit A (first on line 6)",
        ),
        "parent on nested unit": (
            """
            units:
              - code: A
                name: 甲
                children:
                  - code: B
                    name: 乙
                    parent: A  #<
            """,
            "only allowed on top-level units",
        ),
    }

    @pytest.mark.parametrize("text, words", INVALID.values(), ids=INVALID.keys())
    def test_invalid_file_points_at_the_line(self, text, words):
        text = textwrap.dedent(text)
        marked = [number for number, line in enumerate(text.splitlines(), 1) if line.endswith("#<")]
        errors = errors_of(text)
        assert [(marked[0] if marked else None, True)] == [
            (ln, words in message) for ln, message in errors
        ], errors


# --- applying -------------------------------------------------------------------------------


class TestApplyOrg:
    async def test_example_creates_tree_members_and_groups(self, db, tmp_path):
        changes = await import_text(db, tmp_path, EXAMPLE, actor=42)
        state = await snapshot(db)
        assert state["units"]["C02"] == ("光明社区", "community", "S01")
        assert state["units"]["D01"] == ("东城区", "district", None)
        assert state["members"][1001] == ("王主任", "13800000000", None)
        assert (2001, "C02", Role.REPORTER) in state["memberships"]
        assert state["groups"] == {
            -1001000000001: "D01",
            -1001000000002: "S01",
            -1001000000003: "C02",
        }
        assert (changes.units_created, changes.members_created, changes.memberships_added) == (
            6,
            7,
            8,
        )
        assert changes.groups_bound == 3 and changes.units_moved == 0

    async def test_reimport_changes_nothing(self, db, tmp_path):
        await import_text(db, tmp_path, EXAMPLE)
        before = await snapshot(db)
        changes = await import_text(db, tmp_path, EXAMPLE)
        assert not changes and changes.lines == []
        assert await snapshot(db) == before | {"audits": before["audits"] + 1}

    async def test_audit_row_has_the_counts(self, db, tmp_path):
        await import_text(db, tmp_path, small_org(), actor=42, prune=True)
        async with db.session() as s:
            row = (await s.execute(select(AuditLog))).scalar_one()
        assert (row.action, row.actor_telegram_id, row.subject) == ("org.import", 42, "D01")
        assert row.details["units_created"] == 3 and row.details["prune"] is True

    async def test_changed_name_kind_role_and_parent(self, db, tmp_path):
        before = """
            units:
              - code: D01
                name: 东城区
                children:
                  - code: S01
                    name: 和平街道
                    members: [{telegram_id: 1, name: 王, role: reporter}]
                    children: [{code: C01, name: 和平社区, kind: community}]
                  - {code: S02, name: 安定街道}
            """
        after = """
            units:
              - code: D01
                name: 东城区
                children:
                  - code: S01
                    name: 和平街道
                    members: [{telegram_id: 1, name: 王, role: leader}]
                  - code: S02
                    name: 安定街道
                    children: [{code: C01, name: 新和平社区, kind: village}]
                  - {code: S03, name: 新街道}
            """
        await import_text(db, tmp_path, textwrap.dedent(before))
        changes = await import_text(db, tmp_path, textwrap.dedent(after))
        state = await snapshot(db)
        assert state["units"]["C01"] == ("新和平社区", "village", "S02")
        assert state["units"]["S03"] == ("新街道", "unit", "D01")
        assert state["memberships"] == {(1, "S01", Role.LEADER)}
        assert changes.lines == [
            "unit C01: 和平社区 (community) → 新和平社区 (village)",
            "unit S03 (新街道) created",
            "unit C01 moved: S01 → S02",  # placing the new S03 is part of creating it
            "person 1 in unit S01: reporter → leader",
        ]

    async def test_person_in_two_units_is_one_member(self, db, tmp_path):
        await import_text(
            db,
            tmp_path,
            org_text(
                unit("A", members=[person(7, "王", "leader")]),
                unit("B", members=[person(7, "王", phone="139")]),
            ),
        )
        state = await snapshot(db)
        assert state["members"] == {7: ("王", "139", None)}
        assert state["memberships"] == {(7, "A", Role.LEADER), (7, "B", Role.REPORTER)}

    async def test_omitted_phone_and_locale_keep_stored_values(self, db, tmp_path):
        await add_unit(db, "A")
        await add_member(db, 7, "A", name="旧名", phone="123", locale="en")
        changes = await import_text(db, tmp_path, org_text(unit("A", members=[person(7, "新名")])))
        assert (await snapshot(db))["members"][7] == ("新名", "123", "en")
        assert changes.members_updated == 1

    async def test_group_bound_elsewhere_is_rebound(self, db, tmp_path):
        await add_unit(db, "OLD")
        await add_group(db, -1001, "OLD", title="和平群")
        changes = await import_text(db, tmp_path, small_org(), actor=9)
        assert (await snapshot(db))["groups"] == {-1001: "D01"}
        assert (changes.groups_moved, changes.groups_bound) == (1, 0)
        async with db.session() as s:
            group = (await s.execute(select(GroupChat))).scalar_one()
        assert (group.title, group.bound_by) == ("和平群", 9)  # the title the bot learned stays

    async def test_top_level_parent_places_a_partial_file(self, db, tmp_path):
        await import_text(db, tmp_path, small_org())
        await import_text(db, tmp_path, org_text(unit("C02", parent="S01", kind="community")))
        assert (await snapshot(db))["units"]["C02"][2] == "S01"

    async def test_move_under_own_descendant_is_rejected(self, db, tmp_path):
        await import_text(db, tmp_path, small_org())
        before = await snapshot(db)
        text = "units:\n  - {code: X, name: 新}\n  - code: D01\n    name: 东城区\n    parent: C01\n"
        with pytest.raises(OrgFileError) as info:
            await import_text(db, tmp_path, text)
        assert info.value.errors == [
            (5, "unit D01 cannot be placed under C01, which is inside it (D01 → C01 → S01 → D01)")
        ]
        assert await snapshot(db) == before

    async def test_unknown_parent_is_rejected(self, db, tmp_path):
        with pytest.raises(OrgFileError) as info:
            await import_text(db, tmp_path, "units:\n  - code: A\n    name: 甲\n    parent: NOPE\n")
        assert info.value.errors == [
            (4, "unknown parent unit 'NOPE': it is neither in this file nor in the database")
        ]

    @pytest.mark.parametrize(
        "bad", ["units:\n  - code: [\n", org_text(unit("A", members=[person(1, role="x")]))]
    )
    async def test_failed_import_leaves_database_unchanged(self, db, tmp_path, bad):
        await import_text(db, tmp_path, small_org())
        before = await snapshot(db)
        with pytest.raises(OrgFileError):
            await import_text(db, tmp_path, bad)
        assert await snapshot(db) == before

    async def test_failure_while_writing_rolls_everything_back(self, db, tmp_path, monkeypatch):
        async def broken_audit(*args, **kwargs):
            raise RuntimeError("disk full")

        monkeypatch.setattr(bot.org.apply, "audit", broken_audit)
        with pytest.raises(RuntimeError):
            await import_text(db, tmp_path, EXAMPLE)
        assert (await snapshot(db))["units"] == {}

    async def test_unreadable_file_is_an_org_file_error(self, db, tmp_path):
        with pytest.raises(OrgFileError, match="cannot read"):
            await import_org_file(db, tmp_path / "missing.yaml", settings=daily_settings())

    async def test_without_prune_unlisted_memberships_stay(self, db, tmp_path):
        await import_text(db, tmp_path, small_org())
        await add_member(db, 9, "C01")
        await import_text(db, tmp_path, small_org())
        assert (9, "C01", Role.REPORTER) in (await snapshot(db))["memberships"]

    async def test_prune_removes_unlisted_memberships_of_units_in_the_file(self, db, tmp_path):
        await import_text(db, tmp_path, small_org())
        await add_unit(db, "OTHER")
        await add_member(db, 9, "C01")
        await add_member(db, 9, "OTHER")
        changes = await import_text(db, tmp_path, small_org(), prune=True)
        state = await snapshot(db)
        assert (9, "C01", Role.REPORTER) not in state["memberships"]
        assert (9, "OTHER", Role.REPORTER) in state["memberships"]  # unit not in the file
        assert 9 in state["members"] and "OTHER" in state["units"]
        assert changes.memberships_removed == 1 and changes.lines == [
            "person 9 removed from unit C01"
        ]


class TestOrgChanges:
    def test_empty_is_false_with_a_plain_summary(self):
        assert not OrgChanges()
        assert OrgChanges().summary() == "No changes: the database already matches the file."

    def test_summary_lists_the_counts(self):
        changes = OrgChanges(units_created=3, units_updated=1, roles_changed=2)
        assert changes
        assert changes.summary().splitlines()[:2] == [
            "6 changes:",
            "Units: 3 created, 1 updated, 0 moved",
        ]
        assert "0 removed, 2 changed role" in changes.summary()
        assert OrgChanges(groups_bound=1).summary().startswith("1 change:\n")


# --- export ---------------------------------------------------------------------------------


class TestExportOrg:
    async def test_export_then_import_is_a_no_op(self, db, tmp_path):
        await import_text(db, tmp_path, EXAMPLE)
        await add_unit(db, "LOOSE", parent="C03")
        await add_group(db, -77, "C03")  # a second group: exported as a list
        async with db.session() as s:
            exported = await export_org(s)
        assert "group_chat_id: [-1001000000003]" not in exported
        assert not await import_text(db, tmp_path, exported, prune=True)

    async def test_export_matches_the_file_in_canonical_order(self, db, tmp_path):
        await import_text(db, tmp_path, EXAMPLE)
        async with db.session() as s:
            exported = await export_org(s)
        assert parse_org(exported) == parse_org(EXAMPLE).canonical()
        assert "- {telegram_id: 1001, name: 王主任, role: leader, phone: '13800000000'}" in exported
        assert exported.index("code:") < exported.index("name:") < exported.index("kind:")

    async def test_empty_database_exports_an_importable_file(self, db):
        async with db.session() as s:
            assert parse_org(await export_org(s)) == OrgSpec()


# --- property: any small organisation survives import → export ----------------------------

CODES = st.text("ABCDEFGHJK0123456789-_", min_size=1, max_size=6)
TEXT = (
    st.text("东城区和平街道社区王李张 abcxyz yesnoul:#'-\"", min_size=1, max_size=12)
    .map(str.strip)
    .filter(bool)
)
PERSON = st.tuples(
    st.integers(1, 2**40),
    TEXT,
    st.none() | st.text("0123456789+", min_size=1, max_size=13),
    st.sampled_from([None, "zh_Hans", "zh_Hant", "en"]),
)


@st.composite
def org_specs(draw) -> OrgSpec:
    codes = draw(st.lists(CODES, min_size=1, max_size=6, unique=True))
    people = draw(st.lists(PERSON, max_size=4, unique_by=lambda p: p[0]))
    chats = draw(st.lists(st.integers(-(2**50), -1), max_size=4, unique=True))
    parents = [draw(st.sampled_from([None, *range(i)])) for i in range(len(codes))]
    nodes = []
    for code in codes:
        who = draw(st.lists(st.sampled_from(people), unique_by=lambda p: p[0])) if people else []
        members = tuple(
            MemberSpec(tid, name, draw(st.sampled_from(Role)), phone, locale)
            for tid, name, phone, locale in who
        )
        taken = draw(st.integers(0, 2))
        groups, chats = tuple(chats[:taken]), chats[taken:]
        nodes.append(
            dict(
                code=code,
                name=draw(TEXT),
                kind=draw(st.sampled_from(["unit", "street", "工厂"])),
                group_chat_ids=groups,
                members=members,
            )
        )
    return OrgSpec(_nest(nodes, parents, None))


def _nest(nodes: list[dict], parents: list[int | None], parent: int | None) -> tuple[UnitSpec, ...]:
    return tuple(
        UnitSpec(**node, children=_nest(nodes, parents, i))
        for i, node in enumerate(nodes)
        if parents[i] == parent
    )


async def _import_then_export(text: str) -> str:
    database = Database("sqlite+aiosqlite:///:memory:")
    try:
        await create_schema(database)
        async with database.session() as s:
            await apply_org(s, parse_org(text), settings=daily_settings())
        async with database.session() as s:
            return await export_org(s)
    finally:
        await database.dispose()


class TestRoundTripProperty:
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(org_specs())
    def test_export_of_import_parses_back_to_the_same_spec(self, spec):
        text = dump_org(spec)
        assert parse_org(text) == spec
        assert parse_org(asyncio.run(_import_then_export(text))) == spec.canonical()
