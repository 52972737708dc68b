"""Communities (CPTS) and their members."""
