"""The weighting rule of each index as the KB records it (kb/seed-003/index-*.ttl, index-weighting.ttl):
its method, cap, buckets, the facts it weights and ranks by, and the readings the KB applies where the
seed leaves a point open. Read once from the store; plain dataclasses out."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from ..common.backend import SparqlBackend
from ..common.ids import iri_node, to_id
from ..common.languages import lang_key
from ..common.namespaces import KB, sparql_prologue

_PROLOGUE = sparql_prologue()
WEIGHTING_ASPECT = str(KB) + "methodology-aspect/weighting"


def _texts(rows: list[dict[str, Any]], var: str) -> dict[str, str]:
    """Texts by answer language ('en', 'zh'); for 'zh' the simplified text (zh-Hans) where the KB also
    has another script, so that the answer does not depend on the order the store returns them in."""
    best: dict[str, tuple[int, str]] = {}
    for row in rows:
        if var in row:
            tag = (row[var].get("xml:lang") or "").lower()
            key = lang_key(tag)
            if key is None:
                continue
            rank = (0 if tag in ("en", "zh-hans", "zh") else 1, row[var]["value"])
            if key not in best or rank < best[key]:
                best[key] = rank
    return {key: text for key, (_, text) in best.items()}


def _fraction(text: str) -> Fraction:
    return Fraction(Decimal(text))


@dataclass(frozen=True)
class Reading:
    iri: str
    choice: str  # the ck:code of the ck:WeightingReadingChoice applied
    of: tuple[str, ...]  # the statement or buckets it reads
    labels: dict[str, str]
    summaries: dict[str, str]
    ambiguities: dict[str, str]
    citation_iris: tuple[str, ...]

    @property
    def id(self) -> str:
        return to_id(self.iri)


@dataclass(frozen=True)
class RankKey:
    fact: str  # the input fact's JSON name
    criterion: str  # the selection criterion's IRI
    order: str | None  # a reading choice code: rank-largest-first / rank-smallest-first; None: not recorded


@dataclass
class Bucket:
    iri: str
    ordinal: int
    labels: dict[str, str]
    target: Fraction
    issuer_types: frozenset[str]  # issuer-type codes of the bucket's category and narrower ones
    max_constituents: int | None
    rank: list[RankKey]
    within: str  # the code of the within-bucket weighting method
    within_fact: str | None  # the fact a proportional within-bucket weighting reads
    cap: Fraction | None
    readings: dict[str, Reading] = field(default_factory=dict)  # by choice code

    @property
    def id(self) -> str:
        return to_id(self.iri)


@dataclass
class Methodology:
    index_iri: str
    index_labels: dict[str, str]
    statement_iri: str | None
    stated: bool
    summaries: dict[str, str]
    citation_iris: list[str]
    method: str | None = None  # the ck:code of the weighting method
    method_iri: str | None = None
    weight_fact: str | None = None  # the fact a proportional method reads
    cap: Fraction | None = None
    pro_rata: bool = False
    buckets: list[Bucket] = field(default_factory=list)
    bucket_fact: str | None = None  # the input fact whose code list the buckets' categories come from
    undetermined_types: frozenset[str] = frozenset()
    readings: dict[str, Reading] = field(default_factory=dict)  # the statement's, by choice code
    all_readings: list[Reading] = field(default_factory=list)

    @property
    def index_id(self) -> str:
        return to_id(self.index_iri)


class Methodologies:
    """Every index's weighting rule, by index id."""

    def __init__(self, backend: SparqlBackend):
        self.backend = backend
        self._narrower = self._issuer_types()
        self._readings = self._load_readings()
        self.by_id: dict[str, Methodology] = {}
        for row in self._select("SELECT ?index ?code WHERE { ?index a/rdfs:subClassOf* ck:BondIndex ; ck:code ?code }"):
            self.by_id[row["code"]["value"]] = self._load(row["index"]["value"])

    def _select(self, query: str, bindings: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return self.backend.select(_PROLOGUE + query, bindings)

    def _issuer_types(self) -> dict[str, set[str]]:
        """Issuer-type IRI → the codes of it and every narrower type."""
        out: dict[str, set[str]] = {}
        for row in self._select("""SELECT ?t ?code ?up WHERE { ?t a ck:IssuerType ; ck:code ?code .
                                   OPTIONAL { ?t skos:broader+ ?up } }"""):
            code = row["code"]["value"]
            out.setdefault(row["t"]["value"], set()).add(code)
            if "up" in row:
                out.setdefault(row["up"]["value"], set()).add(code)
        return out

    def _load_readings(self) -> dict[str, list[Reading]]:
        rows = self._select("""SELECT ?r ?of ?choice ?l ?s ?a ?c WHERE {
            ?r a ck:WeightingReading ; ck:readingOf ?of ; ck:readingApplied/ck:code ?choice .
            { ?r rdfs:label ?l } UNION { ?r ck:summary ?s } UNION { ?r ck:ambiguity ?a } UNION
            { ?r ck:citation ?c } }""")
        by_iri: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_iri.setdefault(row["r"]["value"], []).append(row)
        out: dict[str, list[Reading]] = {}
        for iri, group in sorted(by_iri.items()):
            of = tuple(sorted({r["of"]["value"] for r in group}))
            reading = Reading(iri, group[0]["choice"]["value"], of, _texts(group, "l"), _texts(group, "s"),
                              _texts(group, "a"), tuple(sorted({r["c"]["value"] for r in group if "c" in r})))
            for target in of:
                out.setdefault(target, []).append(reading)
        return out

    def _load(self, index: str) -> Methodology:
        one = {"index": iri_node(index)}
        labels = _texts(self._select("SELECT ?index ?l WHERE { ?index rdfs:label ?l }", one), "l")
        rows = self._select("""SELECT ?index ?aspect ?s ?stated WHERE { ?index ck:hasMethodologyStatement ?s .
            ?s ck:aspect ?aspect ; ck:ruleStated ?stated }""", {**one, "aspect": iri_node(WEIGHTING_ASPECT)})
        if not rows:
            # no statement at all: a sub-index whose aspects the seed leaves open (ck:aspectNotStated)
            return Methodology(index, labels, None, False, {}, self._index_citations(index))
        statement = rows[0]["s"]["value"]
        stated = rows[0]["stated"]["value"] == "true"
        s = {"s": iri_node(statement)}
        detail = self._select("""SELECT ?s ?sum ?c ?m ?code ?fact ?cap ?prorata ?undet WHERE {
            { ?s ck:summary ?sum } UNION { ?s ck:citation ?c } UNION
            { ?s ck:weightingMethod ?m . ?m ck:code ?code . OPTIONAL { ?m ck:measuredByFact/ck:jsonName ?fact } } UNION
            { ?s ck:singleConstituentCap ?cap } UNION { ?s ck:capExcessRedistributedProRata ?prorata } UNION
            { ?s ck:bucketUndeterminedFor/ck:code ?undet } }""", s)
        m = Methodology(index, labels, statement, stated, _texts(detail, "sum"),
                        sorted({r["c"]["value"] for r in detail if "c" in r}))
        if not stated:
            return m
        for row in detail:
            if "code" in row:
                m.method, m.method_iri = row["code"]["value"], row["m"]["value"]
                m.weight_fact = row.get("fact", {}).get("value")
            if "cap" in row:
                m.cap = _fraction(row["cap"]["value"])
            if "prorata" in row:
                m.pro_rata = row["prorata"]["value"] == "true"
        m.undetermined_types = frozenset(r["undet"]["value"] for r in detail if "undet" in r)
        m.readings = {r.choice: r for r in self._readings.get(statement, [])}
        m.buckets = self._buckets(statement)
        facts = self._select("""SELECT DISTINCT ?s ?fact WHERE { ?s ck:hasWeightingBucket/ck:bucketCategory ?cat .
            ?cat skos:inScheme ?scheme . ?f a ck:InputFact ; ck:valuesFrom ?scheme ; ck:jsonName ?fact }""", s)
        m.bucket_fact = facts[0]["fact"]["value"] if len(facts) == 1 else None
        seen = {r.iri: r for r in self._readings.get(statement, [])}
        for b in m.buckets:
            seen.update({r.iri: r for r in b.readings.values()})
        m.all_readings = sorted(seen.values(), key=lambda r: r.iri)
        return m

    def _index_citations(self, index: str) -> list[str]:
        return sorted(r["c"]["value"] for r in self._select("SELECT ?index ?c WHERE { ?index ck:citation ?c }",
                                                             {"index": iri_node(index)}))

    def _buckets(self, statement: str) -> list[Bucket]:
        buckets = []
        for row in self._select("""SELECT ?s ?b ?ord ?target ?cat ?max ?within ?wfact ?cap WHERE {
                ?s ck:hasWeightingBucket ?b . ?b ck:ordinal ?ord ; ck:targetWeight ?target ;
                   ck:withinBucketWeighting ?w . ?w ck:code ?within .
                OPTIONAL { ?w ck:measuredByFact/ck:jsonName ?wfact }
                OPTIONAL { ?b ck:bucketCategory ?cat } OPTIONAL { ?b ck:maxConstituents ?max }
                OPTIONAL { ?b ck:singleConstituentCap ?cap } } ORDER BY ?ord""", {"s": iri_node(statement)}):
            b = row["b"]["value"]
            one = {"b": iri_node(b)}
            labels = _texts(self._select("SELECT ?b ?l WHERE { ?b rdfs:label ?l }", one), "l")
            rank = []
            for prop in ("primarySelectionCriterion", "tieBreakCriterion"):
                for k in self._select(f"""SELECT ?b ?crit ?fact ?order WHERE {{ ?b ck:{prop} ?crit .
                        ?crit ck:measuredByFact/ck:jsonName ?fact .
                        OPTIONAL {{ ?crit ck:rankOrder/ck:code ?order }} }}""", one):
                    rank.append(RankKey(k["fact"]["value"], k["crit"]["value"], k.get("order", {}).get("value")))
            bucket = Bucket(b, int(row["ord"]["value"]), labels, _fraction(row["target"]["value"]),
                            frozenset(self._narrower.get(row.get("cat", {}).get("value", ""), set())),
                            int(row["max"]["value"]) if "max" in row else None, rank, row["within"]["value"],
                            row.get("wfact", {}).get("value"),
                            _fraction(row["cap"]["value"]) if "cap" in row else None,
                            {r.choice: r for r in self._readings.get(b, [])})
            buckets.append(bucket)
        return buckets
