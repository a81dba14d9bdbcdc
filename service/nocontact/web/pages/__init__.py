"""Page routers: one module per area (home, people, vault, items, activity, settings, review)."""
