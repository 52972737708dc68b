"""The request domain: its model, the pure machine, the use cases that write its decisions, and the tick."""
