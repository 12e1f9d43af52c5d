# Two commands for a newcomer: `make run` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LOCALES := zh_Hans zh_Hant en

.PHONY: run test lint i18n compile-i18n migrate bench clean migration

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

compile-i18n: $(STAMP)
	$(PY) -m babel.messages.frontend compile -d locales -D messages --use-fuzzy --statistics 2>&1 | grep -v '^$$' || true
	@# compile exits 0 even on warnings; the catalog tests catch missing strings.

migrate: $(STAMP)
	$(PY) -m bot db upgrade

# Without TELEGRAM_BOT_TOKEN this starts the sandbox (the bot against a local stand-in).
run: $(STAMP) compile-i18n
	$(PY) -m bot run --sandbox-if-no-token

lint: $(STAMP)
	$(PY) -m ruff check .

test: $(STAMP) compile-i18n lint
	$(PY) -m pytest $(PYTEST_ARGS)

# Extract every translatable string and merge it into the three catalogs.
i18n: $(STAMP)
	$(PY) -m babel.messages.frontend extract -F babel.cfg -k lazy_gettext -k ngettext:1,2 -k N_ \
		--no-wrap --sort-by-file -o locales/messages.pot --project=shangbao --copyright-holder="Shangbao contributors" .
	for l in $(LOCALES); do \
		if [ -f locales/$$l/LC_MESSAGES/messages.po ]; then \
			$(PY) -m babel.messages.frontend update -i locales/messages.pot -d locales -D messages -l $$l --no-wrap --ignore-obsolete; \
		else \
			$(PY) -m babel.messages.frontend init -i locales/messages.pot -d locales -D messages -l $$l --no-wrap; \
		fi; \
	done
	$(PY) -m bot.i18n_tools locales/en/LC_MESSAGES/messages.po

bench: $(STAMP) compile-i18n
	$(PY) -m tests.bench

clean:
	rm -rf $(VENV) var/*.sqlite3*

# A new migration from the models' changes: make migration m="what changed" rev=0002
migration: $(STAMP)
	rm -f var/migration-base.sqlite3
	$(PY) -c "from storage.migrate import upgrade; upgrade('sqlite+aiosqlite:///var/migration-base.sqlite3')"
	$(PY) -c "import sys; from alembic import command; from storage.migrate import alembic_config; \
		command.revision(alembic_config('sqlite+aiosqlite:///var/migration-base.sqlite3'), message=sys.argv[1], autogenerate=True, rev_id=sys.argv[2] or None)" "$(m)" "$(rev)"
