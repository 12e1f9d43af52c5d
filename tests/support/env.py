"""What the tests share about their surroundings: the administrator's id in every test's
settings, and the PostgreSQL server when SHANGBAO_TEST_POSTGRES_URL names one."""

from __future__ import annotations

import os

from sqlalchemy.engine import make_url

PG_ADMIN_URL = os.environ.get("SHANGBAO_TEST_POSTGRES_URL", "")
ADMIN_ID = 9001


async def pg_admin(sql: str) -> None:
    import asyncpg

    url = make_url(PG_ADMIN_URL)
    conn = await asyncpg.connect(host=url.host, port=url.port or 5432, user=url.username,
                                 password=url.password, database=url.database)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()
