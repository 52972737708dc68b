"""Geography: where a patient or a practice is, from the national address base (BAN) loaded locally, or online."""
