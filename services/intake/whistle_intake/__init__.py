"""Whistle intake service."""
