"""Whistle notify service."""
