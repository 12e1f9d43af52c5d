"""Helpers the tests share: row factories, the emulator drivers, process and CLI runners.

Test modules import from here, never from each other, so that a test file can be moved,
renamed or deleted without breaking another.
"""
