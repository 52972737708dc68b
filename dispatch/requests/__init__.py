"""The operators' and staff's endpoints on requests."""
