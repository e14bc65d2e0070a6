"""The log engine: sources, line index, search and follow. No textual here (see pyproject's import contract)."""

from .follow import LogDocument
from .index import LineIndex, TailWindow
from .search import Query, Search
from .source import Change, LocalFileSource, Source, SpoolSource, SpoolWriter, open_source

__all__ = [
    "Change",
    "LineIndex",
    "LocalFileSource",
    "LogDocument",
    "Query",
    "Search",
    "Source",
    "SpoolSource",
    "SpoolWriter",
    "TailWindow",
    "open_source",
]
