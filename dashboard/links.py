"""Links between pages, built in one place: a page's relative address with the runs or
sweep it should open on (pages follow them with widgets.follow_link). Relative, so they
work under any base URL and in a new tab."""

from __future__ import annotations

from urllib.parse import urlencode


def page_link(page: str, **query: str | list[str]) -> str:
    """'evaluate', run='x' -> 'evaluate?run=x'; a list of ids is joined by commas
    (draw?runs=a,b). Values are URL-quoted; commas stay as they are."""
    values = {k: ",".join(v) if isinstance(v, (list, tuple)) else v for k, v in query.items() if v is not None}
    return f"{page}?{urlencode(values, safe=',')}" if values else page
