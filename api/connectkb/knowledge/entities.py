"""Entity look-up: search by type and text, and one entity with its facts, labels, roles and citations."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ..common.backend import Row, SparqlBackend
from ..common.ids import iri_node, to_id, to_iri
from ..common.labels import Citations, Labels
from ..common.languages import lang_key, normalise_lang, pick_label
from ..common.namespaces import PREFIXES, sparql_prologue

_PROLOGUE = sparql_prologue()


@dataclass
class _Indexed:
    iri: str
    labels: dict[str, str] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)
    types: set[str] = field(default_factory=set)


class EntityService:
    """Answers entity look-ups from any SPARQL backend; builds its search index once at start-up."""

    def __init__(self, backend: SparqlBackend):
        self.backend = backend
        self.labels = Labels(backend)
        self.label_of = self.labels.label_of
        self.citations = Citations(backend)

    # ------------------------------------------------------------ index and search
    @cached_property
    def _index(self) -> dict[str, _Indexed]:
        """Built on first use: the rules engines never search, so `connectkb validate` and the rule
        verbs do not pay for it; the service builds it before it serves (`Engines.warm`)."""
        index: dict[str, _Indexed] = {}
        rows = self.backend.select(_PROLOGUE + """
            SELECT ?s ?t WHERE { ?s a ?direct . ?direct rdfs:subClassOf* ?t .
                                 FILTER(isIRI(?s) && STRSTARTS(STR(?s), "https://w3id.org/connectkb/id/")) }""")
        for row in rows:
            index.setdefault(row["s"]["value"], _Indexed(row["s"]["value"])).types.add(row["t"]["value"])
        rows = self.backend.select(_PROLOGUE + """
            SELECT ?s ?p ?l WHERE { ?s ?p ?l .
                FILTER(?p IN (rdfs:label, skos:altLabel, skos:prefLabel, ck:code, ck:nameAsListed))
                FILTER(isIRI(?s) && STRSTARTS(STR(?s), "https://w3id.org/connectkb/id/")) }""")
        for row in rows:
            entry = index.setdefault(row["s"]["value"], _Indexed(row["s"]["value"]))
            text = row["l"]["value"]
            entry.names.add(text.lower())
            key = lang_key(row["l"].get("xml:lang"))
            if row["p"]["value"].endswith("#label") and key:
                entry.labels.setdefault(key, text)
        return index

    def type_matches(self, wanted: str) -> set[str]:
        """Class IRIs a `type=` filter names: a full IRI, a CURIE, or a class local name."""
        wanted_l = wanted.lower()
        all_types = {t for e in self._index.values() for t in e.types}
        out = set()
        for t in all_types:
            local = re.split(r"[/#]", t)[-1]
            if t == wanted or to_id(t).lower() == wanted_l or local.lower() == wanted_l:
                out.add(t)
        return out

    def search(self, type_: str | None = None, q: str | None = None, lang: str = "en",
               limit: int = 50, offset: int = 0) -> tuple[int, list[dict[str, Any]]]:
        candidates = list(self._index.values())
        if type_:
            types = self.type_matches(type_)
            candidates = [e for e in candidates if e.types & types]
        if q:
            needle = q.lower().strip()
            scored = []
            for e in candidates:
                if needle in e.names:
                    scored.append((0, e))
                elif any(n.startswith(needle) for n in e.names):
                    scored.append((1, e))
                elif any(needle in n for n in e.names):
                    scored.append((2, e))
            scored.sort(key=lambda se: (se[0], pick_label(se[1].labels, lang) or se[1].iri))
            candidates = [e for _, e in scored]
        else:
            candidates.sort(key=lambda e: (pick_label(e.labels, lang) or "", e.iri))
        total = len(candidates)
        return total, [self._summary(e, lang) for e in candidates[offset:offset + limit]]

    def summary(self, iri: str, lang: str) -> dict[str, Any]:
        return self._summary(self._index.get(iri) or _Indexed(iri), lang)

    def _summary(self, e: _Indexed, lang: str) -> dict[str, Any]:
        return {"id": to_id(e.iri), "iri": e.iri, "label": pick_label(e.labels, lang),
                "types": sorted(to_id(t) for t in e.types if not t.startswith(PREFIXES["rdfs"]))}

    def types_of(self, iri: str) -> set[str]:
        entry = self._index.get(iri)
        return entry.types if entry else set()

    def neighbours(self, iri: str) -> set[str]:
        """IRIs one link away from `iri`, in either direction."""
        rows = self.backend.select(_PROLOGUE + """SELECT DISTINCT ?iri ?x WHERE {
            { ?iri ?p ?x } UNION { ?x ?p ?iri } FILTER(isIRI(?x)) }""", {"iri": iri_node(iri)})
        return {r["x"]["value"] for r in rows}

    # ------------------------------------------------------------ one entity
    def get(self, entity_id: str, lang: str = "en") -> dict[str, Any] | None:
        iri = to_iri(entity_id)
        lang = normalise_lang(lang)
        # labels in every language come back and the one asked for is picked here, so that the
        # language never enters the query
        label_rows = self.backend.select(_PROLOGUE + """
            SELECT ?s ?p ?o ?pl ?ol WHERE {
              ?s ?p ?o .
              OPTIONAL { ?p rdfs:label ?pl }
              OPTIONAL { ?o rdfs:label ?ol . FILTER(isIRI(?o)) }
            }""", {"s": iri_node(iri)})
        if not label_rows:
            return None
        rows = _pick_row_labels(label_rows, lang)
        labels: dict[str, str] = {}
        alt_labels: dict[str, list[str]] = defaultdict(list)
        types: list[dict[str, Any]] = []
        facts: list[dict[str, Any]] = []
        citation_iris: list[str] = []
        for row in rows:
            p, o = row["p"]["value"], row["o"]
            if p == PREFIXES["rdfs"] + "label" and lang_key(o.get("xml:lang")):
                labels[lang_key(o.get("xml:lang"))] = o["value"]  # type: ignore[index]
            elif p == PREFIXES["skos"] + "altLabel":
                alt_labels[lang_key(o.get("xml:lang")) or "und"].append(o["value"])
            elif p == PREFIXES["rdf"] + "type":
                types.append(self._ref(o, row.get("ol"), lang))
            elif p == PREFIXES["ck"] + "citation":
                citation_iris.append(o["value"])
            else:
                facts.append({"property": to_id(p), "property_label": row.get("pl", {}).get("value"),
                              "value": self._value(o, row.get("ol"), lang)})
        facts.sort(key=lambda f: (f["property"], str(f["value"])))
        types.sort(key=lambda ty: ty["id"])
        return {
            "id": to_id(iri), "iri": iri, "label": pick_label(labels, lang), "labels": labels,
            "alt_labels": dict(alt_labels), "types": types, "facts": facts,
            "citations": self.citations(citation_iris, lang),
            "roles": self._roles(iri, lang),
            "referenced_by": self._referenced_by(iri, lang),
        }

    def _ref(self, term: dict[str, str], label: dict[str, str] | None, lang: str) -> dict[str, Any]:
        iri = term["value"]
        return {"id": to_id(iri), "iri": iri, "label": (label or {}).get("value") or self.label_of(iri, lang)}

    def _value(self, term: dict[str, str], label: dict[str, str] | None, lang: str) -> Any:
        if term["type"] == "uri":
            return self._ref(term, label, lang)
        out: dict[str, Any] = {"value": term["value"]}
        if "datatype" in term:
            out["datatype"] = to_id(term["datatype"])
        if "xml:lang" in term:
            out["lang"] = term["xml:lang"]
        return out

    def _roles(self, iri: str, lang: str) -> list[dict[str, Any]]:
        rows = self.backend.select(_PROLOGUE + """
            SELECT ?member ?ra ?p ?o WHERE { ?ra org:member ?member ; a ck:RoleAssignment ; ?p ?o . }""",
                                   {"member": iri_node(iri)})
        assignments: dict[str, list[Row]] = defaultdict(list)
        for row in rows:
            assignments[row["ra"]["value"]].append(row)
        roles = []
        for ra, ra_rows in sorted(assignments.items()):
            props: dict[str, list[dict[str, str]]] = defaultdict(list)
            for row in ra_rows:
                props[to_id(row["p"]["value"])].append(row["o"])

            def one(name: str, props: dict[str, list[dict[str, str]]] = props) -> str | None:
                values = props.get(name)
                return values[0]["value"] if values else None

            def ref(name: str, props: dict[str, list[dict[str, str]]] = props) -> dict[str, Any] | None:
                values = props.get(name)
                return self._ref(values[0], None, lang) if values else None

            roles.append({
                "id": to_id(ra), "label": self.label_of(ra, lang), "role": ref("org:role"),
                "within": ref("ck:withinArrangement"), "designated_by": ref("ck:designatedBy"),
                "announced_on": one("ck:announcedOn"), "effective_from": one("ck:effectiveFrom"),
                "effective_from_period": one("ck:effectiveFromPeriod"), "effective_to": one("ck:effectiveTo"),
                "in_force_before": one("ck:inForceBefore"),
                "not_stated": sorted(to_id(v["value"]) for v in props.get("ck:notStated", [])),
                "date_notes": [v["value"] for v in props.get("ck:dateNote", [])
                               if lang_key(v.get("xml:lang")) in (lang, None)]
                              or [v["value"] for v in props.get("ck:dateNote", [])],
                "citations": self.citations([v["value"] for v in props.get("ck:citation", [])], lang),
            })
        return roles

    def _referenced_by(self, iri: str, lang: str, limit: int = 200) -> list[dict[str, Any]]:
        rows = self.backend.select(_PROLOGUE + f"""
            SELECT DISTINCT ?o ?s ?p WHERE {{ ?s ?p ?o . FILTER(?p != org:member) }}
            ORDER BY ?s ?p LIMIT {int(limit)}""", {"o": iri_node(iri)})
        return [{"id": to_id(r["s"]["value"]), "label": self.label_of(r["s"]["value"], lang),
                 "property": to_id(r["p"]["value"])} for r in rows]


def _pick_row_labels(rows: list[Row], lang: str) -> list[Row]:
    """One row per statement, with the property's and the value's label in `lang` where they have one
    (rows repeat a statement once per label combination)."""
    merged: dict[tuple[str, tuple[tuple[str, str], ...]], Row] = {}
    for row in rows:
        key = (row["p"]["value"], tuple(sorted(row["o"].items())))
        out = merged.setdefault(key, {"p": row["p"], "o": row["o"]})
        for var in ("pl", "ol"):
            if var in row and var not in out and lang_key(row[var].get("xml:lang")) == lang:
                out[var] = row[var]
    return list(merged.values())
