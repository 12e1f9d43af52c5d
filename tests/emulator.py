"""Compatibility: the emulator lives in bot/sandbox/emulator.py; `tests.emulator` is that module."""
import sys; from bot.sandbox import emulator; sys.modules[__name__] = emulator  # noqa: E702, I001
