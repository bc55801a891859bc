"""The change timeline as an Atom feed (RFC 4287), so that a reader can subscribe to it; written with the
`feedgen` library, which keeps the feed valid (ids, dates, required links, escaping)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from feedgen.feed import FeedGenerator

from ..common.namespaces import BASE

TITLES = {"en": "connectkb: changes in Hong Kong–mainland financial connectivity policy",
          "zh": "connectkb：两地金融互联互通政策变化"}


def atom_feed(self_url: str, changes: list[dict[str, Any]], release: str | None, lang: str) -> bytes:
    feed = FeedGenerator()
    feed.id(f"{BASE}changes")
    feed.title(TITLES.get(lang, TITLES["en"]))
    feed.link(href=self_url, rel="self", type="application/atom+xml")
    feed.link(href=f"{BASE}id/dataset", rel="alternate", type="text/html")
    feed.language(lang)
    feed.author({"name": "connectkb"})
    feed.generator("connectkb", version=release or None)
    feed.updated(_timestamp(max((c["date"] for c in changes), default="1970-01-01")))
    for change in reversed(changes):  # newest first
        entry = feed.add_entry(order="append")
        entry.id(f"{BASE}changes/{change['id']}")
        entry.title(change["summary"])
        entry.updated(_timestamp(change["date"]))
        entry.category(term=change["kind"])
        # the entry's page: what changed, with its roles, dates and sources (RFC 4287 §4.1.1 wants one
        # alternate link on an entry without content)
        entry.link(href=f"{BASE}id/{change['subject']['id']}", rel="alternate", type="text/html")
        sources = "; ".join(f"{c['title'] or c['source']} ({c['locator']})" for c in change["citations"])
        entry.summary(f"{change['summary']}. {sources}" if sources else change["summary"])
    return feed.atom_str(pretty=True)


def _timestamp(date_text: str) -> dt.datetime:
    """Atom wants a full timestamp; a month or year is placed on its first day."""
    parts = [int(p) for p in date_text.split("-")] + [1, 1]
    return dt.datetime(parts[0], parts[1], parts[2], tzinfo=dt.UTC)
