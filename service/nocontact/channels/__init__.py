"""Channels: IMAP poller, SMTP front, SMS webhooks. Each turns what it receives into an
``InboundMessage`` and calls the one intake; each has the same file names."""
