"""The web app: pages for the owner and the reviewer, health, and the SMS webhooks."""
