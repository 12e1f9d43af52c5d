"""Storage (the bottom layer): typed models, one session per update, migrations, idempotent
writes. Imports nothing of the bot but the shared utilities; everything above may import it.
(tests/test_layers.py checks the order: intake → handlers → domain → delivery → outbox → storage.)
"""
