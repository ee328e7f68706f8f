"""Aggregate figures over many sessions and their text (pure: no I/O)."""
