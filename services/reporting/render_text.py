"""Text a document format can always take, whatever the log holds.

The schema refuses control characters in new events (api.md answer 23), but a log is immutable and
may already hold such text (a unit registered before the check, or written around the API). XML 1.0
(xlsx, docx) forbids most C0 characters, U+FFFE/U+FFFF and lone surrogates, and a library that
meets one refuses the whole document; HTML shows them as garbage. Every renderer passes its data
through `printable` first, so one stored name can never break a bulletin.
"""

import re
from typing import Any

REPLACEMENT = "\ufffd"
# C0 except tab, line feed and carriage return; DEL and C1; the non-characters XML excludes; surrogates.
_UNRENDERABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff]")


def printable_text(text: str) -> str:
    """`text` with every character a document cannot hold replaced by U+FFFD."""
    return _UNRENDERABLE.sub(REPLACEMENT, text)


def printable(value: Any) -> Any:
    """A copy of JSON-like data (dicts, lists, strings, numbers) with every string made printable."""
    if isinstance(value, str):
        return printable_text(value)
    if isinstance(value, dict):
        return {printable(key): printable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(printable(item) for item in value)
    return value
