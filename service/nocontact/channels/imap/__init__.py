"""IMAP: watch mailboxes, take listed senders away unread."""
