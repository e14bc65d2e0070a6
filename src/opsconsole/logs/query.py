"""A search as the operator typed it (kept apart from the scanner so the UI can import it cheaply)."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Query:
    """Pattern plus the two toggles: regex or literal, case-sensitive or not."""

    pattern: str
    regex: bool = False
    case_sensitive: bool = False

    def compile(self) -> re.Pattern[bytes]:
        """The Python regex over bytes, per line (raises re.error for a bad pattern)."""
        source = self.pattern.encode() if self.regex else re.escape(self.pattern.encode())
        flags = re.MULTILINE | (0 if self.case_sensitive else re.IGNORECASE)
        return re.compile(source, flags)

    def compile_text(self) -> re.Pattern[str]:
        """The same over decoded text, for highlighting matches on screen."""
        source = self.pattern if self.regex else re.escape(self.pattern)
        return re.compile(source, 0 if self.case_sensitive else re.IGNORECASE)
