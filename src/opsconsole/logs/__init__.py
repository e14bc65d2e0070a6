"""The log engine: sources, line index, search and follow. No textual here (see pyproject's import contract).

Exports are resolved lazily so importing a light module (the tail window, a query) does not
pay for numpy on the way to the first screen.
"""

from importlib import import_module

_EXPORTS = {
    "Change": "source",
    "LocalFileSource": "source",
    "Source": "source",
    "SpoolSource": "source",
    "SpoolWriter": "source",
    "open_source": "source",
    "TailWindow": "tail",
    "LineIndex": "index",
    "LogDocument": "follow",
    "Query": "query",
    "Search": "search",
    "FileLog": "ref",
    "LogRef": "ref",
    "LogStream": "ref",
    "RangedLog": "ref",
    "StreamChunk": "ref",
    "StreamLog": "ref",
    "as_ref": "ref",
    "open_ref": "ref",
    "LogSpool": "spool",
    "SpoolJob": "spool",
    "SpoolState": "spool",
    "LocalRangeReader": "ranged",
    "RangeReader": "ranged",
    "RangedSource": "ranged",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(name)
