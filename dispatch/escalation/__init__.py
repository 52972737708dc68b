"""The escalation of a request: plan, pure machine, service and tick."""
