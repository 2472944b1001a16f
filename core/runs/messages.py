"""One line of an error, for a status file, a table cell or a terminal: messages from
libraries run to pages of text (and sometimes to nothing at all)."""

from __future__ import annotations

LIMIT = 300


def one_line(error: BaseException | str, limit: int | None = LIMIT, named: bool = False) -> str:
    """The first line of `error`'s message, at most `limit` characters (None: all of
    it); its type's name when it says nothing. `named`: "TypeName: first line"."""
    text = str(error).strip()
    line = text.splitlines()[0][:limit] if text else ""
    kind = type(error).__name__ if isinstance(error, BaseException) else ""
    if named and kind:
        return f"{kind}: {line}" if line else kind
    return line or kind or "error"
