"""Shangbao (上报): a Telegram bot for stability information reporting."""

import os

# Opt in to PTB's coming behaviour (durations as timedelta, e.g. RetryAfter.retry_after), so
# the public attributes can be read without deprecation warnings; set before PTB is imported.
os.environ.setdefault("PTB_TIMEDELTA", "true")
