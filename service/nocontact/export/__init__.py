"""Evidence export: the bundle, the report, the incident log, verification."""
