"""Real servers for tests, started on loopback ports (Dovecot IMAP + LMTP, PostgreSQL DBs)."""
