"""Delivery: the outbox sender and the one rate limiter every Bot API message goes through.

Below the domain: it sends what the outbox holds and knows nothing of reports or cases.
May import the outbox and storage; only intake (bot.app) imports it.
"""
