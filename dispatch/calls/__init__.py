"""Calls to the operators: each one triaged, with or without a request."""
