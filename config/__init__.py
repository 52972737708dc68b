"""Settings per environment, read from the environment variables of CONTRACT.md."""
