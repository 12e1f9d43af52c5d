"""Reading the deployment files in docs/deploy/: systemd units and their keys."""

from __future__ import annotations

from pathlib import Path

FILES = Path(__file__).resolve().parents[2] / "docs" / "deploy"
SERVICES = ["shangbao@.service", "shangbao-polling.service", "shangbao-backup.service"]



def unit(name: str) -> dict[str, list[tuple[str, str]]]:
    """systemd's INI dialect: sections of key=value lines, keys may repeat."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in (FILES / name).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), [])
        else:
            key, _, value = line.partition("=")
            current.append((key.strip(), value.strip()))
    return sections



def values(section: list[tuple[str, str]], key: str) -> list[str]:
    return [value for name, value in section if name == key]

