"""Incident reports: answers and their validation, severity, routing and storage (domain).

Plain modules that the handlers call and tests use without Telegram. May import other domain
packages, the outbox and storage; never handlers or intake.
"""
