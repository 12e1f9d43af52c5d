"""Benchmarks (`make bench`): each module here has `async def run() -> str`, a Markdown section."""
