"""Incident reports: answers and their validation, severity, routing, cards and storage.

Plain modules that the handlers call and tests use without Telegram.
"""
