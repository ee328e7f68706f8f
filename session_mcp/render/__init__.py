"""Each answer's result model beside its text: what a tool returns, and how a model reads it.

A module per answer (``page``, ``transcript``, ``batch``), the parts they share (``session_info``,
``scan_info``, ``digests``) and the words every text uses (``common``, ``lines``). The models are
the tools' ``structuredContent`` and ``outputSchema`` (plain pydantic, snake_case, no nulls); they
are built from the wire models here, so the server stays thin and the text comes from the very
same objects. Compact on purpose, context being the scarce resource: a column named once in a
header, no empty fields, every cut said with the call that gets the rest. Pure: no I/O, and no
HTTP client (a test imports this package in a fresh interpreter to keep it so).
"""
