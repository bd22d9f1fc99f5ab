"""Whistle's web console (指挥台): a client of the four services' public APIs."""
