"""Whistle scoring service."""
