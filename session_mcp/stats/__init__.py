"""Aggregate figures over many sessions, pure (no I/O).

``result`` holds the answer's model, ``figures`` computes it, ``text`` says it.
"""
