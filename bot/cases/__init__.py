"""Case life cycle: acknowledgement, assignment, follow-ups, the final report, deadlines."""
