"""The physicians' endpoints: devices, availability, offers, accept, refuse, outcome."""
