"""Delivery: the outbox sender and the one rate limiter every Bot API message goes through."""
