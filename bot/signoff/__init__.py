"""Sign-off (审签), corrections with versions, and leaders' marks on reports."""
