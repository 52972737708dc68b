"""Notifications: the outbox, the ports to push/SMS/secure mail, and their adapters."""
