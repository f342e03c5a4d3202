"""EHR readers. Every reader returns an :class:`EHRSource`; see :func:`load_source`."""

from kg_editor.data.sources.base import (
    EVENT_COLUMNS,
    PERSON_COLUMNS,
    EHRSource,
    load_source,
    register_reader,
    registered_readers,
)

__all__ = [
    "EVENT_COLUMNS",
    "PERSON_COLUMNS",
    "EHRSource",
    "load_source",
    "register_reader",
    "registered_readers",
]
