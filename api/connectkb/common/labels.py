"""Labels of any IRI the KB labels, and citations as answers show them: what every engine's answers
carry, read once from whichever store holds the KB."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from .backend import Row, SparqlBackend, values_block
from .ids import iri_node, to_id
from .languages import lang_key, pick_label
from .namespaces import sparql_prologue

_PROLOGUE = sparql_prologue()


class Labels:
    """Every rdfs:label of the KB, by IRI and language, read once at start-up."""

    def __init__(self, backend: SparqlBackend):
        self._labels: dict[str, dict[str, str]] = defaultdict(dict)
        for row in backend.select(_PROLOGUE + "SELECT ?s ?l WHERE { ?s rdfs:label ?l . FILTER(isIRI(?s)) }"):
            key = lang_key(row["l"].get("xml:lang"))
            if key:
                self._labels[row["s"]["value"]].setdefault(key, row["l"]["value"])

    def label_of(self, iri: str, lang: str, exact: bool = False) -> str | None:
        """The label in `lang` of any IRI the KB labels (falling back to another language unless `exact`)."""
        labels = self._labels.get(iri)
        if labels:
            return labels.get(lang) if exact else pick_label(labels, lang)
        return None


class Citations:
    """Citations (source, locator, verbatim quote, tier) as answers show them."""

    def __init__(self, backend: SparqlBackend):
        self.backend = backend
        # rows by set of citations: the KB's own sets (a rule's, a criterion's, an entity's), asked for
        # in every language, at start-up and by answers; the KB does not change once loaded
        self._rows: dict[tuple[str, ...], list[Row]] = {}

    def __call__(self, citation_iris: list[str], lang: str) -> list[dict[str, Any]]:
        if not citation_iris:
            return []
        key = tuple(sorted(set(citation_iris)))
        rows = self._rows.get(key)
        if rows is None:
            rows = self._rows[key] = self._select(key)
        by_citation: dict[str, dict[str, Any]] = {}
        for row in rows:
            c = row["c"]["value"]
            entry = by_citation.setdefault(c, {
                "id": to_id(c), "source": to_id(row["source"]["value"]),
                "title": row.get("title", {}).get("value"), "locator": row.get("locator", {}).get("value"),
                "quote": row.get("quote", {}).get("value"), "note": row.get("note", {}).get("value"),
                "tier": row.get("tier", {}).get("value"), "address": row.get("address", {}).get("value"),
            })
            # a source may carry its title in several languages; keep the one asked for
            if "title" in row and lang_key(row["title"].get("xml:lang")) == lang:
                entry["title"] = row["title"]["value"]
        return [by_citation[c] for c in sorted(by_citation)]

    def _select(self, citation_iris: tuple[str, ...]) -> list[Row]:
        # the IRIs are the KB's own; they still reach the query only as terms pyoxigraph serialized
        values = values_block("c", (iri_node(c) for c in citation_iris))
        return self.backend.select(_PROLOGUE + f"""
            SELECT ?c ?source ?locator ?quote ?note ?tier ?title ?address WHERE {{
              {values}
              ?c ck:source ?source .
              OPTIONAL {{ ?c ck:locator ?locator }}
              OPTIONAL {{ ?c ck:quote ?quote }}
              OPTIONAL {{ ?c ck:note ?note }}
              OPTIONAL {{ ?source ck:tier/ck:code ?tier }}
              OPTIONAL {{ ?source dcterms:title ?title }}
              OPTIONAL {{ ?source ck:address ?address }}
            }}""")
