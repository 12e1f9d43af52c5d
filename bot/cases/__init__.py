"""Case life cycle: acknowledgement, assignment, follow-ups, the final report, deadlines.

Domain: may import the card (bot.card), other domain packages, the outbox and storage;
never handlers or intake.
"""
