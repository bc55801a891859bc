"""The change timeline as an Atom feed (RFC 4287), so that a reader can subscribe to it."""

from __future__ import annotations

import datetime as dt
from typing import Any
from xml.etree import ElementTree as ET

from ..common.namespaces import BASE

ATOM = "http://www.w3.org/2005/Atom"


def atom_feed(self_url: str, changes: list[dict[str, Any]], release: str | None, lang: str) -> bytes:
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed", {"{http://www.w3.org/XML/1998/namespace}lang": lang})

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            element.text = text
        return element

    sub(feed, "id", f"{BASE}changes")
    sub(feed, "title", "connectkb: changes in Hong Kong–mainland financial connectivity policy" if lang == "en"
        else "connectkb：两地金融互联互通政策变化")
    sub(feed, "link", rel="self", href=self_url)
    newest = max((c["date"] for c in changes), default="1970-01-01")
    sub(feed, "updated", _timestamp(newest))
    author = sub(feed, "author")
    sub(author, "name", "connectkb")
    sub(feed, "generator", "connectkb", version=release or "")
    for change in reversed(changes):  # newest first
        entry = sub(feed, "entry")
        sub(entry, "id", f"{BASE}changes/{change['id']}")
        sub(entry, "title", change["summary"])
        sub(entry, "updated", _timestamp(change["date"]))
        sub(entry, "category", term=change["kind"])
        sub(entry, "link", rel="related", href=f"{BASE}id/{change['subject']['id']}")
        sources = "; ".join(f"{c['title'] or c['source']} ({c['locator']})" for c in change["citations"])
        sub(entry, "summary", f"{change['summary']}. {sources}" if sources else change["summary"])
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def _timestamp(date_text: str) -> str:
    """Atom wants a full timestamp; a month or year is placed on its first day."""
    parts = [int(p) for p in date_text.split("-")] + [1, 1]
    return dt.datetime(parts[0], parts[1], parts[2], tzinfo=dt.UTC).isoformat().replace("+00:00", "Z")
