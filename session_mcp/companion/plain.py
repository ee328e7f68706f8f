"""The upstream JSON of a model the ingest built from it unchanged, kept beside the model for the store.

A store keeps each session's wire JSON; re-making it from the model (``to_wire`` and
``json.dumps``) costs about as much again as reading it did. When the ingest changed nothing in a
body (a plain one, ``ingest._clean_already``) and its caller asks, that text is kept here, for the
model object itself: keyed by its identity, dropped when it is collected. A copy
(``model_copy``, as redaction makes) is another object and has none, so only what was read is
ever stored as read. The models are not changed in place after the ingest (nothing assigns to
their fields), which is what makes the text still the model's.
"""

from __future__ import annotations

import weakref

from pydantic import BaseModel

_kept: dict[int, bytes] = {}


def keep_text(model: BaseModel, text: bytes) -> None:
    """Keep ``text`` (the JSON ``model`` was validated from, unchanged) while ``model`` lives."""
    key = id(model)
    _kept[key] = text
    weakref.finalize(model, _kept.pop, key, None)


def kept_text(model: BaseModel) -> bytes | None:
    """The JSON ``model`` was read from unchanged, or ``None`` (not kept, or a copy of such a model)."""
    return _kept.get(id(model))
