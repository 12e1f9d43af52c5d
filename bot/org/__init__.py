"""Organisation as code: the unit tree, members and group chats kept in one YAML file.

`python -m bot org import FILE.yaml` validates the whole file, then applies it in one
transaction; `python -m bot org export` prints the current organisation in the same format.
The file's manual is docs/org-file.md.

    spec.py     the keys and limits, and what a file says (`OrgSpec`, `UnitSpec`…, `OrgFileError`)
    parse.py    YAML (with its lines, bot/yamlsafe.py) to a spec, listing every error with its line
    changes.py  what an import changed (`OrgChanges`)
    apply.py    a spec into the database (`apply_org`), a file in one transaction (`import_org_file`)
    export.py   the database back to a spec and to YAML (`export_org`, `dump_org`)
"""

from __future__ import annotations

from bot.org.apply import apply_org, import_org_file
from bot.org.changes import OrgChanges
from bot.org.export import dump_org, export_org
from bot.org.parse import parse_org
from bot.org.spec import DutySpec, MemberSpec, OrgFileError, OrgSpec, PeriodSpec, UnitSpec

__all__ = [
    "DutySpec",
    "MemberSpec",
    "OrgChanges",
    "OrgFileError",
    "OrgSpec",
    "PeriodSpec",
    "UnitSpec",
    "apply_org",
    "dump_org",
    "export_org",
    "import_org_file",
    "parse_org",
]
