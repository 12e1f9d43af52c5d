"""The sample organisation the sandbox starts with, in the organisation file's format.

A district, two streets and four communities, each with its group chat; reporters and leaders
with Chinese names; a duty roster for the sandbox's first week. It goes through the same
import as an administrator's file (bot/org.py), so the sandbox shows what an import gives.
"""

from __future__ import annotations

from datetime import date, timedelta

import yaml

# The administrator: listed in ADMIN_TELEGRAM_IDS of the sandbox's bot.
ADMIN_ID = 1002
ROSTER_DAYS = 7

_PEOPLE = {
    1001: "王建国", 1002: "赵敏", 2001: "陈书记", 2002: "刘书记",
    3001: "李明", 3002: "张华", 3003: "刘洋", 3004: "孙丽", 3005: "王芳",
    3101: "周涛", 3102: "吴强", 3103: "郑洁", 3104: "钱伟",
}
# (code, name, kind, group chat, [(telegram id, role)], children)
_TREE = ("D01", "东城区", "district", -1001000000001, [(1001, "leader"), (1002, "admin")], [
    ("S01", "和平街道", "street", -1001000000011, [(2001, "leader")], [
        ("C01", "和平社区", "community", -1001000000111, [(3101, "leader"), (3001, "reporter"),
                                                          (3002, "reporter")], []),
        ("C02", "光明社区", "community", -1001000000112, [(3102, "leader"), (3003, "reporter")], []),
    ]),
    ("S02", "安定街道", "street", -1001000000012, [(2002, "leader")], [
        ("C03", "安定社区", "community", -1001000000121, [(3103, "leader"), (3004, "reporter")], []),
        ("C04", "新华社区", "community", -1001000000122, [(3104, "leader"), (3005, "reporter")], []),
    ]),
])
# Who is on duty (leader, officer) in the units that keep a roster, alternating by day.
_DUTY = {"D01": [(1001, 1002)], "S01": [(2001, 3002), (2001, 3001)], "S02": [(2002, 3004)]}


def sample_org(first_day: date) -> dict:
    """The organisation as the file's data, with the roster starting on `first_day`."""
    return {"units": [_unit(_TREE, first_day)]}


def sample_org_yaml(first_day: date) -> str:
    return yaml.safe_dump(sample_org(first_day), allow_unicode=True, sort_keys=False)


def _unit(node: tuple, first_day: date) -> dict:
    code, name, kind, chat_id, members, children = node
    unit: dict = {"code": code, "name": name, "kind": kind, "group_chat_id": chat_id,
                  "members": [{"telegram_id": i, "name": _PEOPLE[i], "role": role}
                              for i, role in members]}
    if code in _DUTY:
        unit["duty"] = _roster(_DUTY[code], first_day)
    if children:
        unit["children"] = [_unit(child, first_day) for child in children]
    return unit


def _roster(pairs: list[tuple[int, int]], first_day: date) -> list[dict]:
    return [{"date": (first_day + timedelta(days=n)).isoformat(),
             "leader": pairs[n % len(pairs)][0], "officer": pairs[n % len(pairs)][1]}
            for n in range(ROSTER_DAYS)]
