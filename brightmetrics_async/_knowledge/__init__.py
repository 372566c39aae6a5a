"""The knowledge store: what a session learned, kept across runs and shared by processes.

Documents (the service document, each report's filter ``$metadata``, the root ``$metadata``)
with a maximum age, job durations per report, format and filter shape, and page counts per
report and time-range length. Backends: :class:`MemoryKnowledge`, :class:`SQLiteKnowledge`
(the default, beside the budget's file) and :class:`RedisKnowledge`.
"""

from ._base import Entry as Entry
from ._base import KnowledgeStore as KnowledgeStore
from ._facade import DEFAULT_MAX_AGE as DEFAULT_MAX_AGE
from ._facade import Knowledge as Knowledge
from ._memory import MemoryKnowledge as MemoryKnowledge
from ._redis import RedisKnowledge as RedisKnowledge
from ._shape import filter_shape as filter_shape
from ._shape import range_key as range_key
from ._sqlite import SQLiteKnowledge as SQLiteKnowledge
from ._sqlite import default_knowledge_path as default_knowledge_path

__all__ = [
    "DEFAULT_MAX_AGE",
    "Entry",
    "Knowledge",
    "KnowledgeStore",
    "MemoryKnowledge",
    "RedisKnowledge",
    "SQLiteKnowledge",
    "default_knowledge_path",
    "filter_shape",
    "range_key",
]
