"""One migration history that matches the models on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine

from storage.migrate import alembic_config, current_revision, head_revision
from storage.models import Base


class TestMigrations:
    def test_single_head(self):
        heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
        assert len(heads) == 1, f"several migration heads: {heads}; merge them"

    async def test_migrated_schema_matches_the_models(self, db_url):
        engine = create_async_engine(db_url)
        try:
            async with engine.connect() as conn:
                diff = await conn.run_sync(
                    lambda c: compare_metadata(MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata))
        finally:
            await engine.dispose()
        assert diff == [], f"models and migrations differ; run `make migration`: {diff}"
        assert await current_revision(db_url) == head_revision()
