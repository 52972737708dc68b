"""The access trail: who read a patient's identity, when, and from which client."""
