"""Answers as text a model reads well, and the result models tools return (pure: no I/O)."""
