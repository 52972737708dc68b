"""Accounts, bearer tokens and role checks."""
