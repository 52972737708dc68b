"""Outcomes and syntheses, and their delivery to the treating GP over MSSanté."""
