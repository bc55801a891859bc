"""Entity look-up: search by type and text, and one entity with its facts, labels, roles and citations."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from .namespaces import KB, PREFIXES, sparql_prologue
from .store import Row, SparqlBackend

KB_BASE = str(KB)
_SAFE_ID = re.compile(r"^[A-Za-z0-9._~\-/:%]+$")
_PROLOGUE = sparql_prologue()


class BadIdentifier(ValueError):
    """An entity id that cannot name any IRI of the KB."""


def normalise_lang(lang: str | None) -> str:
    """'zh', 'zh-Hans', 'zh-CN' → 'zh'; everything else → 'en'."""
    return "zh" if lang and lang.lower().startswith("zh") else "en"


def to_id(iri: str) -> str:
    if iri.startswith(KB_BASE):
        return iri[len(KB_BASE):]
    best = None
    for prefix, ns in PREFIXES.items():
        if iri.startswith(ns) and (best is None or len(ns) > len(PREFIXES[best.split(":")[0]])):
            best = f"{prefix}:{iri[len(ns):]}"
    return best or iri


def to_iri(entity_id: str) -> str:
    if not entity_id or not _SAFE_ID.match(entity_id):
        raise BadIdentifier(f"'{entity_id}' is not an entity id: expected a KB id such as 'boc' "
                            "or a CURIE such as 'ck:RoleAssignment'")
    prefix, sep, rest = entity_id.partition(":")
    if sep and prefix in PREFIXES:
        return PREFIXES[prefix] + rest
    if sep:
        raise BadIdentifier(f"'{entity_id}': unknown prefix '{prefix}'; "
                            f"known prefixes are {', '.join(sorted(PREFIXES))}")
    return KB_BASE + entity_id


@dataclass
class _Indexed:
    iri: str
    labels: dict[str, str] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)
    types: set[str] = field(default_factory=set)


def _pick(labels: dict[str, str], lang: str) -> str | None:
    return labels.get(lang) or labels.get("en") or labels.get("zh") or next(iter(labels.values()), None)


def _lang_key(tag: str | None) -> str | None:
    if not tag:
        return None
    return "zh" if tag.lower().startswith("zh") else ("en" if tag.lower().startswith("en") else None)


class EntityService:
    """Answers entity look-ups from any SPARQL backend; builds its search index once at start-up."""

    def __init__(self, backend: SparqlBackend):
        self.backend = backend
        self._index = self._build_index()
        self._labels: dict[str, dict[str, str]] = defaultdict(dict)
        for row in backend.select(_PROLOGUE + "SELECT ?s ?l WHERE { ?s rdfs:label ?l . FILTER(isIRI(?s)) }"):
            key = _lang_key(row["l"].get("xml:lang"))
            if key:
                self._labels[row["s"]["value"]].setdefault(key, row["l"]["value"])

    # ------------------------------------------------------------ index and search
    def _build_index(self) -> dict[str, _Indexed]:
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
            key = _lang_key(row["l"].get("xml:lang"))
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
            candidates = [e for _, e in sorted(scored, key=lambda se: (se[0], _pick(se[1].labels, lang) or se[1].iri))]
        else:
            candidates.sort(key=lambda e: (_pick(e.labels, lang) or "", e.iri))
        total = len(candidates)
        return total, [self._summary(e, lang) for e in candidates[offset:offset + limit]]

    def summary(self, iri: str, lang: str) -> dict[str, Any]:
        return self._summary(self._index.get(iri) or _Indexed(iri), lang)

    def _summary(self, e: _Indexed, lang: str) -> dict[str, Any]:
        return {"id": to_id(e.iri), "iri": e.iri, "label": _pick(e.labels, lang),
                "types": sorted(to_id(t) for t in e.types if not t.startswith(PREFIXES["rdfs"]))}

    def types_of(self, iri: str) -> set[str]:
        entry = self._index.get(iri)
        return entry.types if entry else set()

    def neighbours(self, iri: str) -> set[str]:
        """IRIs one link away from `iri`, in either direction."""
        rows = self.backend.select(_PROLOGUE + f"""SELECT DISTINCT ?x WHERE {{
            {{ <{iri}> ?p ?x }} UNION {{ ?x ?p <{iri}> }} FILTER(isIRI(?x)) }}""")
        return {r["x"]["value"] for r in rows}

    def label_of(self, iri: str, lang: str, exact: bool = False) -> str | None:
        """The label in `lang` of any IRI the KB labels (falling back to another language unless `exact`)."""
        labels = self._labels.get(iri)
        if labels:
            return labels.get(lang) if exact else _pick(labels, lang)
        return None

    # ------------------------------------------------------------ one entity
    def get(self, entity_id: str, lang: str = "en") -> dict[str, Any] | None:
        iri = to_iri(entity_id)
        lang = normalise_lang(lang)
        rows = self.backend.select(_PROLOGUE + f"""
            SELECT ?p ?o ?pl ?ol WHERE {{
              <{iri}> ?p ?o .
              OPTIONAL {{ ?p rdfs:label ?pl . FILTER(langMatches(lang(?pl), "{lang}")) }}
              OPTIONAL {{ ?o rdfs:label ?ol . FILTER(isIRI(?o) && langMatches(lang(?ol), "{lang}")) }}
            }}""")
        if not rows:
            return None
        labels: dict[str, str] = {}
        alt_labels: dict[str, list[str]] = defaultdict(list)
        types: list[dict[str, Any]] = []
        facts: list[dict[str, Any]] = []
        citation_iris: list[str] = []
        for row in rows:
            p, o = row["p"]["value"], row["o"]
            if p == PREFIXES["rdfs"] + "label" and _lang_key(o.get("xml:lang")):
                labels[_lang_key(o.get("xml:lang"))] = o["value"]  # type: ignore[index]
            elif p == PREFIXES["skos"] + "altLabel":
                alt_labels[_lang_key(o.get("xml:lang")) or "und"].append(o["value"])
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
            "id": to_id(iri), "iri": iri, "label": _pick(labels, lang), "labels": labels,
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

    def citations(self, citation_iris: list[str], lang: str) -> list[dict[str, Any]]:
        if not citation_iris:
            return []
        values = " ".join(f"<{c}>" for c in sorted(set(citation_iris)))
        rows = self.backend.select(_PROLOGUE + f"""
            SELECT ?c ?source ?locator ?quote ?note ?tier ?title ?address WHERE {{
              VALUES ?c {{ {values} }}
              ?c ck:source ?source .
              OPTIONAL {{ ?c ck:locator ?locator }}
              OPTIONAL {{ ?c ck:quote ?quote }}
              OPTIONAL {{ ?c ck:note ?note }}
              OPTIONAL {{ ?source ck:tier/ck:code ?tier }}
              OPTIONAL {{ ?source dcterms:title ?title }}
              OPTIONAL {{ ?source ck:address ?address }}
            }}""")
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
            if "title" in row and _lang_key(row["title"].get("xml:lang")) == lang:
                entry["title"] = row["title"]["value"]
        return [by_citation[c] for c in sorted(by_citation)]

    def _roles(self, iri: str, lang: str) -> list[dict[str, Any]]:
        rows = self.backend.select(_PROLOGUE + f"""
            SELECT ?ra ?p ?o WHERE {{
              ?ra org:member <{iri}> ; a ck:RoleAssignment ; ?p ?o .
            }}""")
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
                               if _lang_key(v.get("xml:lang")) in (lang, None)]
                              or [v["value"] for v in props.get("ck:dateNote", [])],
                "citations": self.citations([v["value"] for v in props.get("ck:citation", [])], lang),
            })
        return roles

    def _referenced_by(self, iri: str, lang: str, limit: int = 200) -> list[dict[str, Any]]:
        rows = self.backend.select(_PROLOGUE + f"""
            SELECT DISTINCT ?s ?p WHERE {{ ?s ?p <{iri}> . FILTER(?p != org:member) }}
            ORDER BY ?s ?p LIMIT {limit}""")
        return [{"id": to_id(r["s"]["value"]), "label": self.label_of(r["s"]["value"], lang),
                 "property": to_id(r["p"]["value"])} for r in rows]
