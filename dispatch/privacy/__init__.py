"""Health-data duties of a community: erasure on time, data subjects' requests, a tenant's export and removal."""
