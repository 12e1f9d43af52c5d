"""Storage: typed models, one session per update, migrations."""
