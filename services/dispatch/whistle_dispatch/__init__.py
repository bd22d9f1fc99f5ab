"""Whistle dispatch service."""
