"""Shared plumbing of the four Whistle services (never their business rules)."""
