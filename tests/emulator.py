"""Compatibility: the emulator lives in bot/sandbox/emulator/; `tests.emulator` is that package."""
import sys; from bot.sandbox import emulator; sys.modules[__name__] = emulator  # noqa: E702, I001
