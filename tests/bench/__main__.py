"""Run every benchmark module in this package and write the figures to BENCHMARKS.md."""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
import platform
import sys
import time
from pathlib import Path

import tests.bench as package

ROOT = Path(__file__).resolve().parents[2]


def modules(selected: list[str]) -> list[str]:
    names = sorted(m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_"))
    return [n for n in names if not selected or n in selected]


async def main(selected: list[str]) -> None:
    sections = []
    for name in modules(selected):
        started = time.perf_counter()
        print(f"bench {name} …", flush=True)
        module = importlib.import_module(f"tests.bench.{name}")
        section = await module.run()
        print(section, flush=True)
        sections.append(section + f"\n\n_(benchmark ran in {time.perf_counter() - started:.1f} s)_\n")
    header = (
        "# Benchmarks\n\nWritten by `make bench` (`python -m tests.bench`). Machine: "
        f"{platform.machine()}, Python {platform.python_version()}, {_cores()} cores.\n"
    )
    (ROOT / "BENCHMARKS.md").write_text(header + "\n" + "\n".join(sections), encoding="utf-8")


def _cores() -> int:
    import os

    return os.cpu_count() or 1


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
