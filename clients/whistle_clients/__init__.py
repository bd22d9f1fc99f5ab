"""Clients of Whistle, written only against its public contract (topics, envelope, HTTP)."""
