"""The rules engine: eligibility rules are SHACL shapes in the KB; evaluating one is facts → RDF →
pySHACL → a three-valued verdict with each criterion's outcome, message and citations.

Nothing here knows any rule: rules, criteria, input facts, code lists, thresholds and dates are read
from the KB at start-up, so a new rule is new Turtle only.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pyoxigraph as ox
from pyshacl import validate
from pyshacl.constraints.sparql.sparql_based_constraints import SPARQLBasedConstraint
from pyshacl.errors import ConstraintLoadError, ReportableRuntimeError, ValidationFailure
from pyshacl.shapes_graph import ShapesGraph
from rdflib import XSD, Graph, Literal, Namespace, URIRef
from rdflib.namespace import RDF, RDFS

from ..common.backend import Bindings, Row, SparqlBackend, rdflib_term, values_block
from ..common.ids import MAX_ID_LENGTH, iri_node, to_id
from ..common.languages import MISSING_FACT, lang_key, normalise_lang, pick_label
from ..common.lru import ByteBoundedLRU
from ..common.namespaces import CK, KB, PREFIXES, sparql_prologue
from ..knowledge.integrity import IntegrityReport, Violation
from ..knowledge.load import KBInvalid
from ..knowledge.loader import to_oxigraph, to_oxigraph_quad
from . import shacl_check_cache
from .preparation import Preparation, PreparationError, Prepared
from .tiers import RestsOn

SH = Namespace("http://www.w3.org/ns/shacl#")
FACT_SET = URIRef("https://w3id.org/connectkb/evaluation/fact-set")
_PROLOGUE = sparql_prologue()
shacl_check_cache.install()
_CJK = re.compile(r"[\u4e00-\u9fff]")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")
_CK = str(CK)
_SHAPE_PATH = ("sh:property|sh:sparql|sh:or|sh:and|sh:not|sh:xone|sh:node|sh:qualifiedValueShape|sh:in|"
               "sh:path|sh:prefixes|sh:declare|sh:inversePath|sh:alternativePath|sh:zeroOrMorePath|"
               "sh:oneOrMorePath|sh:zeroOrOnePath|sh:values|rdf:first|rdf:rest")


# Limits on what one evaluation may carry: far above any real fact set (the longest list a rule reads
# names a few roles or bond types), low enough that a hostile one costs little.
MAX_LIST_ENV, DEFAULT_MAX_LIST = "CONNECTKB_MAX_FACT_LIST", 100
MAX_STRING_ENV, DEFAULT_MAX_STRING = "CONNECTKB_MAX_FACT_STRING", 1000
MAX_NUMBER = 10**15  # integers and decimals beyond this are no amount, age or tenor the rules read
LABEL_CACHE_ENV, DEFAULT_LABEL_CACHE_BYTES = "CONNECTKB_LABEL_CACHE_BYTES", 4 * 1024 * 1024


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


class RuleNotFound(KeyError):
    pass


class EvaluationTimeout(RuntimeError):
    """The evaluation could not start before its deadline (others held the engine meanwhile)."""


class RuleChecksInvalid(KBInvalid):
    """A rule's SHACL-SPARQL does not compile: the service refuses to start, as on a Turtle error."""

    def __init__(self, problems: list[Violation]):
        super().__init__(IntegrityReport(conforms=False, violations=problems))
        self.problems = problems

    def __str__(self) -> str:
        # one check is shared by many criteria: name it once, with where it is used
        grouped: dict[tuple[str, str], list[str]] = {}
        for problem in self.problems:
            grouped.setdefault((problem.focus, problem.message), []).append(problem.path or "")
        lines = [f"rule checks: {len(grouped)} SHACL-SPARQL text(s) do not compile"]
        for (check, message), used_by in grouped.items():
            shown = "; ".join(sorted(set(used_by))[:5]) + (f" and {len(set(used_by)) - 5} more"
                                                           if len(set(used_by)) > 5 else "")
            lines.append(f"  - {check}: {message}\n    used by {shown}")
        return "\n".join(lines)


class FactError(ValueError):
    """A malformed fact; `field` names it and the message says what was expected."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name
        self.message = message


@dataclass
class InputFact:
    iri: str
    name: str
    kind: str
    multiple: bool
    labels: dict[str, str]
    codes: dict[str, str] = field(default_factory=dict)  # code → concept IRI, for enumerations
    entity_class: str | None = None
    scheme: str | None = None
    grades: dict[tuple[str, str], str] = field(default_factory=dict)  # (agency, symbol) → grade IRI
    agencies: set[str] = field(default_factory=set)
    minimum: int | Decimal | None = None  # the fact's domain (ck:minimumValue), not a criterion


@dataclass
class Criterion:
    iri: str
    id: str
    ordinal: int
    labels: dict[str, str]
    pass_messages: dict[str, str]
    requires: list[str]
    citation_iris: list[str]
    one_of: list[str] = field(default_factory=list)  # needs at least one of these facts
    reads: list[str] = field(default_factory=list)  # reads these facts when given, needs none of them
    shape_nodes: set[Any] = field(default_factory=set)
    rests_on: RestsOn | None = None  # the sources its outcome rests on, with their tiers


@dataclass
class Rule:
    iri: str
    id: str
    labels: dict[str, str]
    applies_to: list[str]
    fact_set_class: str
    criteria: list[Criterion]
    facts: dict[str, InputFact]
    citation_iris: list[str]
    unstated: list[str]
    shapes: Graph
    # the KB slice, the criteria's parameters and labels: what every evaluation reads (in `store`); as a
    # graph only read in Python (never validated), so in rdflib's context-free store, twice as fast
    base: Graph
    store: ox.Store = field(default_factory=ox.Store)  # `base`, as the store pySHACL validates
    kb_slices: list[str] = field(default_factory=list)  # ck:kbSlice: more of the KB a custom shape reads
    # (shape IRI, check IRI) → its SHACL-SPARQL as pySHACL runs it on a fact set: (query text, pre-bound
    # variables); prepared once by compile_checks, then run by the compiled engine's probes
    checks: dict[tuple[str, str], tuple[str, dict[ox.Variable, Any]]] = field(default_factory=dict)


Triple = tuple[Any, Any, Any]


class _Terms(dict[tuple[tuple[str, str], ...], Any]):
    """JSON-results terms as rdflib terms, each made once: the rules' shapes and slices share most terms."""

    def __call__(self, value: dict[str, str]) -> Any:
        key = tuple(value.items())
        term = self.get(key)
        if term is None:
            term = self[key] = rdflib_term(value)
        return term


@dataclass
class _Slices:
    """The KB slices the rules' criteria imply, each read once: by arrangement, role and code list IRI."""

    under: dict[str, list[Triple]]
    role: dict[str, list[Triple]]
    scheme: dict[str, list[Triple]]

    def implied(self, parameters: list[Triple], facts: dict[str, InputFact]) -> list[Triple]:
        unders = sorted({str(o) for _, p, o in parameters if p == CK.eligibleUnder})
        roles = sorted({str(o) for _, p, o in parameters if p == CK.heldRole})
        schemes = sorted({f.scheme for f in facts.values() if f.scheme})
        return [t for keys, found in ((unders, self.under), (roles, self.role), (schemes, self.scheme))
                for key in keys for t in found[key]]


def _labels(rows: list[Row], var: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for row in rows:
        if var in row and lang_key(row[var].get("xml:lang")):
            out.setdefault(lang_key(row[var].get("xml:lang")), row[var]["value"])  # type: ignore[arg-type]
    return out


def _pick(texts: dict[str, str], lang: str) -> str | None:
    return pick_label(texts, lang)  # zh-Hant falls back to zh, then en


def _grouped(rows: list[Row], var: str) -> dict[str, list[Row]]:
    out: dict[str, list[Row]] = {}
    for row in rows:
        out.setdefault(row[var]["value"], []).append(row)
    return out


def _distinct(rows: list[Row], var: str) -> list[str]:
    return sorted({row[var]["value"] for row in rows if var in row})


def _values(var: str, iris: list[str]) -> str:
    return values_block(var, (iri_node(iri) for iri in iris))


def _criterion(head: Row, rows: list[Row]) -> Criterion:
    return Criterion(iri=head["c"]["value"], id=head["code"]["value"],
                     ordinal=int(head.get("ord", {}).get("value", 999)), labels=_labels(rows, "l"),
                     pass_messages=_labels(rows, "m"), requires=_distinct(rows, "f"), one_of=_distinct(rows, "alt"),
                     reads=_distinct(rows, "reads"), citation_iris=_distinct(rows, "cite"))


def _input_fact(name: str, rows: list[Row]) -> InputFact:
    first = rows[0]
    fact = InputFact(iri=first["f"]["value"], name=name, kind=first["kind"]["value"],
                     multiple=first.get("multiple", {}).get("value") == "true", labels=_labels(rows, "l"),
                     entity_class=first.get("cls", {}).get("value"))
    if "min" in first:
        text = first["min"]["value"]
        fact.minimum = int(text) if re.fullmatch(r"[+-]?\d+", text) else Decimal(text)
    if "scheme" in first:
        fact.scheme = first["scheme"]["value"]
    return fact


class RulesEngine:
    def __init__(self, backend: SparqlBackend, citations: Any, label_of: Any):
        """`citations(iris, lang)` and `label_of(iri, lang)` come from the entity service."""
        self.backend = backend
        self.citations = citations
        self.label_of = label_of
        # the IRIs posted facts name, with their labels: keyed by request data, so bounded in bytes
        self._labels_added: ByteBoundedLRU[str, list[tuple[Any, Any, Any]]] = ByteBoundedLRU(
            _env_int(LABEL_CACHE_ENV, DEFAULT_LABEL_CACHE_BYTES), _label_entry_bytes)
        # pySHACL validates each rule's shared store in place: one evaluation at a time per engine
        self.store_lock = threading.Lock()
        self.max_list = _env_int(MAX_LIST_ENV, DEFAULT_MAX_LIST)
        self.max_string = _env_int(MAX_STRING_ENV, DEFAULT_MAX_STRING)
        self._terms = _Terms()
        names = {r["n"]["value"] for r in self._select("SELECT ?n WHERE { ?f a ck:InputFact ; ck:jsonName ?n }")}
        self.input_facts = self._load_facts(names)
        self.rules: dict[str, Rule] = {r.id: r for r in self._load_rules()}
        del self._terms  # start-up only
        self.preparation = Preparation(self._select, citations, self.input_facts)
        criteria = [c for rule in self.rules.values() for c in rule.criteria]
        rests_on = self.preparation.tiers.for_criteria([c.iri for c in criteria])
        for criterion in criteria:
            criterion.rests_on = rests_on[criterion.iri]
        compiled: CheckOutcomes = {}
        problems = [p for rule in self.rules.values() for p in compile_checks(rule, compiled)]
        if problems:
            raise RuleChecksInvalid(problems)

    # ------------------------------------------------------------------ loading
    def _select(self, query: str, bindings: Bindings | None = None) -> list[Row]:
        return self.backend.select(_PROLOGUE + query, bindings)

    def _load_rules(self) -> list[Rule]:
        """Every rule, read with a few queries over all rules at once (VALUES) rather than dozens per rule:
        rules share most of what they read, and an external store answers each query over HTTP."""
        heads = self._select("SELECT ?r ?code ?cls WHERE { ?r a ck:EligibilityRule ; ck:code ?code ; "
                             "ck:factSetClass ?cls } ORDER BY ?code")
        rule_iris = sorted({row["r"]["value"] for row in heads})
        # what the source leaves unstated: said on the rule, or on the index it applies
        about = _grouped(self._select(f"""SELECT ?rule ?l ?x ?cite ?a ?q WHERE {{ {_values("rule", rule_iris)}
            {{ ?rule rdfs:label ?l }} UNION {{ ?rule ck:appliesTo ?x }} UNION {{ ?rule ck:citation ?cite }} UNION
            {{ ?rule ck:unstatedAspect ?a }} UNION {{ ?rule ck:appliesTo/ck:aspectNotStated ?a }} UNION
            {{ ?rule ck:kbSlice ?q }} }}"""), "rule")
        criteria = self._criterion_rows(rule_iris)
        drafts = [self._draft(row, about.get(row["r"]["value"], []), *criteria) for row in heads]
        slices = self._slices([parameters for _, parameters in drafts])
        for rule, parameters in drafts:
            self._set_base(rule, parameters, slices)
        return [rule for rule, _ in drafts]

    def _criterion_rows(self, rule_iris: list[str]) -> tuple[dict[str, list[Row]], dict[str, list[Row]]]:
        """(rule IRI → its criteria, one row each; criterion IRI → the rows of its labels, facts, citations)."""
        heads = _grouped(self._select(f"""SELECT ?rule ?c ?code (SAMPLE(?o) AS ?ord) WHERE {{
                {_values("rule", rule_iris)} ?rule ck:hasCriterion ?c . ?c ck:code ?code .
                OPTIONAL {{ ?c ck:ordinal ?o }} }} GROUP BY ?rule ?c ?code"""), "rule")
        iris = sorted({row["c"]["value"] for rows in heads.values() for row in rows})
        details = _grouped(self._select(f"""SELECT ?c ?l ?m ?f ?alt ?reads ?cite WHERE {{ {_values("c", iris)}
                {{ ?c rdfs:label ?l }} UNION {{ ?c ck:passMessage ?m }} UNION
                {{ ?c ck:requiresFact/ck:jsonName ?f }} UNION {{ ?c ck:requiresOneOf/ck:jsonName ?alt }} UNION
                {{ ?c ck:readsFact/ck:jsonName ?reads }} UNION {{ ?c ck:citation ?cite }} }}"""), "c")
        return heads, details

    def _draft(self, head: Row, about: list[Row], criterion_heads: dict[str, list[Row]],
               criterion_details: dict[str, list[Row]]) -> tuple[Rule, list[Triple]]:
        """The rule without its KB slice, and the parameters its criterion shapes carry."""
        iri = head["r"]["value"]
        criteria = sorted((_criterion(row, criterion_details.get(row["c"]["value"], []))
                           for row in criterion_heads.get(iri, [])), key=lambda c: (c.ordinal, c.id))
        facts = {name: self.input_facts[name] for c in criteria for name in (*c.requires, *c.one_of, *c.reads)}
        shapes, parameters = self._shapes_graph(criteria)
        rule = Rule(iri=iri, id=head["code"]["value"], labels=_labels(about, "l"), applies_to=_distinct(about, "x"),
                    fact_set_class=head["cls"]["value"], criteria=criteria, facts=facts,
                    citation_iris=_distinct(about, "cite"), unstated=_distinct(about, "a"), shapes=shapes,
                    base=Graph(store="SimpleMemory"), kb_slices=_distinct(about, "q"))
        return rule, parameters

    def _set_base(self, rule: Rule, parameters: list[Triple], slices: _Slices) -> None:
        """The rule's KB slice (`base`) and its store: the facts the shared checks read, implied by the
        criteria's parameters, what a custom shape declares it reads (ck:kbSlice), the parameters
        themselves (read through $currentShape), and the labels of the IRIs they name."""
        triples = slices.implied(parameters, rule.facts)
        for query in rule.kb_slices:
            triples += self._triples(_as_select(query))
        triples += parameters
        for value in dict.fromkeys(o for _, _, o in parameters):
            if isinstance(value, URIRef):
                triples += self._label_triples(value)
        unique = list(dict.fromkeys(triples))
        for triple in unique:
            rule.base.add(triple)
        rule.store.bulk_extend([to_oxigraph_quad(t) for t in unique])

    def _slices(self, parameters: list[list[Triple]]) -> _Slices:
        """The KB facts the shared checks read, for every arrangement (ck:eligibleUnder), role
        (ck:heldRole) and code list the rules name, each read once however many rules name it: every
        fact of an arrangement; every assignment of a role, with its member's labels and code and its
        arrangement's start; a code list's mappings and rating scales."""
        named = {p: sorted({str(o) for triples in parameters for _, q, o in triples if q == p})
                 for p in (CK.eligibleUnder, CK.heldRole)}
        unders, roles = named[CK.eligibleUnder], named[CK.heldRole]
        schemes = sorted({f.scheme for f in self.input_facts.values() if f.scheme})
        return _Slices(
            under=self._slice("under", unders, f"""SELECT DISTINCT ?under ?s ?p ?o WHERE {{
                {{ {_values("under", unders)} ?under ?p ?o BIND(?under AS ?s) }}
                UNION {{ {_values("under", unders)} ?under ?q ?s . FILTER(?q != ck:citation) ?s ?p ?o .
                        FILTER(?p NOT IN (skos:definition, skos:editorialNote, ck:citation)) }} }}"""),
            role=self._slice("role", roles, f"""SELECT DISTINCT ?role ?s ?p ?o WHERE {{
                {{ {_values("role", roles)} ?s org:role ?role ; ?p ?o }}
                UNION {{ {_values("role", roles)} ?ra org:role ?role ; org:member ?s . ?s ?p ?o .
                        FILTER(?p IN (rdfs:label, ck:code)) }}
                UNION {{ {_values("role", roles)} ?ra org:role ?role ; ck:withinArrangement ?s . ?s ?p ?o .
                        FILTER(?p = ck:effectiveFromPeriod) }} }}"""),
            scheme=self._slice("scheme", schemes, f"""SELECT DISTINCT ?scheme ?s ?p ?o WHERE {{
                {_values("scheme", schemes)} ?s skos:inScheme ?scheme ; ?p ?o .
                FILTER(?p IN (skos:exactMatch, ck:ratingAgency, ck:ratingRank, ck:investmentGrade)) }}"""))

    def _slice(self, var: str, keys: list[str], select: str) -> dict[str, list[Triple]]:
        out: dict[str, list[Triple]] = {key: [] for key in keys}
        if keys:
            term = self._terms
            for row in self._select(select):
                out[row[var]["value"]].append((term(row["s"]), term(row["p"]), term(row["o"])))
        return out

    def _load_facts(self, names: set[str]) -> dict[str, InputFact]:
        rows = _grouped(self._select("""SELECT ?name ?f ?kind ?multiple ?l ?scheme ?cls ?min WHERE {
            ?f a ck:InputFact ; ck:jsonName ?name ; ck:valueKind/ck:code ?kind .
            OPTIONAL { ?f ck:multiple ?multiple } OPTIONAL { ?f rdfs:label ?l }
            OPTIONAL { ?f ck:valuesFrom ?scheme } OPTIONAL { ?f ck:entityClass ?cls }
            OPTIONAL { ?f ck:minimumValue ?min } }"""), "name")
        facts: dict[str, InputFact] = {}
        for name in sorted(names):
            if not rows.get(name):
                raise ValueError(f"a criterion requires input fact '{name}', which no ck:InputFact declares")
            facts[name] = _input_fact(name, rows[name])
        self._add_codes(list(facts.values()))
        return facts

    def _add_codes(self, facts: list[InputFact]) -> None:
        """The codes of enumerated facts and the grades and agencies of ratings, read for all facts at once."""
        schemes = sorted({f.scheme for f in facts if f.scheme})
        codes = _grouped(self._select(f"""SELECT ?scheme ?c ?code WHERE {{ {_values("scheme", schemes)}
            ?c skos:inScheme ?scheme ; ck:code ?code }}"""), "scheme") if schemes else {}
        ratings = [f for f in facts if f.kind == "rating"]
        rated = sorted({f.scheme or "" for f in ratings})
        grades = _grouped(self._select(f"""SELECT ?scheme ?c ?agency ?symbol WHERE {{ {_values("scheme", rated)}
            ?c skos:inScheme ?scheme ; ck:ratingAgency/ck:code ?agency ; ck:ratingSymbol ?symbol }}"""),
                          "scheme") if ratings else {}
        agencies = {r["code"]["value"] for r in self._select(
            "SELECT ?code WHERE { ?a skos:inScheme kb:rating-agency-scheme ; ck:code ?code }")} if ratings else set()
        for fact in facts:
            for row in codes.get(fact.scheme or "", []):
                fact.codes[row["code"]["value"]] = row["c"]["value"]
            if fact.kind == "rating":
                for row in grades.get(fact.scheme or "", []):
                    fact.grades[(row["agency"]["value"], row["symbol"]["value"])] = row["c"]["value"]
                fact.agencies = set(agencies)

    def _triples(self, select: str) -> list[Triple]:
        term = self._terms
        return [(term(row["s"]), term(row["p"]), term(row["o"])) for row in self._select(select)]

    def _shapes_graph(self, criteria: list[Criterion]) -> tuple[Graph, list[Triple]]:
        """The criteria's shapes with everything they hang on (property shapes, SPARQL, prefixes), and what
        checks read of their criterion shape: its parameters and labels."""
        roots = values_block("root", (iri_node(c.iri) for c in criteria))
        rows = self._select(f"""SELECT ?root ?s ?p ?o WHERE {{
            {roots}
            {{ ?root ({_SHAPE_PATH})* ?s }} UNION {{ ?root ck:undeterminedShape/({_SHAPE_PATH})* ?s }}
            ?s ?p ?o }}""")
        by_iri = {c.iri: c for c in criteria}
        term = self._terms
        triples = []
        for row in rows:
            s = term(row["s"])
            triples.append((s, term(row["p"]), term(row["o"])))
            by_iri[row["root"]["value"]].shape_nodes.add(s)
        # the terms are shared objects (`_Terms`): a triple reached from several roots is added once
        unique = list({tuple(map(id, t)): t for t in triples}.values())
        graph = Graph()
        for triple in unique:
            graph.add(triple)
        return graph, [t for t in unique if isinstance(t[0], URIRef) and (t[1].startswith(_CK) or t[1] == RDFS.label)]

    # ------------------------------------------------------------------ facts → RDF
    def facts_to_graph(self, rule: Rule, facts: dict[str, Any], as_of: dt.date) -> Graph:
        """The facts as RDF. A fact no rule declares is an error; one that only other rules read is
        checked and left out, so that one description of a bond can be screened against every rule."""
        unknown = sorted(set(facts) - set(self.input_facts))
        if unknown:
            raise FactError(unknown[0], f"unknown fact '{unknown[0]}'; rule {rule.id} reads: "
                                        f"{', '.join(sorted(rule.facts))}")
        graph = Graph()
        graph.add((FACT_SET, RDF.type, URIRef(rule.fact_set_class)))
        graph.add((FACT_SET, CK.asOf, Literal(as_of.isoformat(), datatype=XSD.date)))
        for name, value in facts.items():
            if value is None:
                continue  # an explicit null is a missing fact
            fact = self.input_facts[name]
            values = value if fact.multiple else [value]
            if fact.multiple and not isinstance(value, list):
                raise FactError(name, f"'{name}' takes a list of values")
            if len(values) > self.max_list:
                raise FactError(name, f"'{name}' lists {len(values)} values; at most {self.max_list} are read")
            for item in values:
                term = self._fact_value(fact, item)
                if name in rule.facts:
                    graph.add((FACT_SET, URIRef(fact.iri), term))
        return graph

    def _fact_value(self, fact: InputFact, value: Any) -> URIRef | Literal:
        name, kind = fact.name, fact.kind
        self._check_size(name, value)
        if kind == "boolean":
            if not isinstance(value, bool):
                raise FactError(name, f"'{name}' must be true or false")
            return Literal(value)
        if kind == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                raise FactError(name, f"'{name}' must be a whole number")
            if abs(value) > MAX_NUMBER:
                raise FactError(name, f"'{name}' must be between -{MAX_NUMBER} and {MAX_NUMBER}")
            _check_minimum(fact, value)
            return Literal(value, datatype=XSD.integer)
        if kind == "decimal":
            if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
                raise FactError(name, f"'{name}' must be a number")
            if not math.isfinite(value) or abs(value) > MAX_NUMBER:
                raise FactError(name, f"'{name}' must be a finite number between -{MAX_NUMBER} and {MAX_NUMBER}")
            _check_minimum(fact, value)
            # repr of a float may be '1e-07', which is no xsd:decimal; spell it out
            text = str(value) if isinstance(value, int) else format(Decimal(repr(value) if isinstance(value, float)
                                                                           else value), "f")
            return Literal(text, datatype=XSD.decimal)
        if kind == "date":
            try:
                return Literal(dt.date.fromisoformat(str(value)).isoformat(), datatype=XSD.date)
            except ValueError:
                raise FactError(name, f"'{name}' must be a date YYYY-MM-DD") from None
        if kind == "concept":
            if not isinstance(value, str) or value not in fact.codes:
                raise FactError(name, f"'{name}' must be one of: {', '.join(sorted(fact.codes))}")
            return URIRef(fact.codes[value])
        if kind == "entity":
            # Ids outside the KB are not errors: they name entities the scheme does not include.
            if isinstance(value, str) and len(value) > MAX_ID_LENGTH:
                raise FactError(name, f"'{name}' must be an entity id of at most {MAX_ID_LENGTH} characters")
            if not isinstance(value, str) or not _CODE.match(value):
                raise FactError(name, f"'{name}' must be an entity id such as 'boc' (letters, digits, '-', '.')")
            return URIRef(str(KB) + value)
        if kind == "iso4217":
            if not isinstance(value, str) or not re.fullmatch(r"[A-Z]{3}", value):
                raise FactError(name, f"'{name}' must be a three-letter ISO 4217 code such as 'CNY' "
                                      "(offshore RMB is CNY too)")
            return URIRef(PREFIXES["iso4217"] + value)
        if kind == "rating":
            if not isinstance(value, dict) or set(value) != {"agency", "grade"} or not all(
                    isinstance(v, str) for v in value.values()):
                raise FactError(name, f"'{name}' must be an object {{\"agency\": …, \"grade\": …}}")
            agency, grade = value["agency"], value["grade"]
            if agency not in fact.agencies:
                raise FactError(name, f"'{name}': unknown agency '{agency}'; expected one of: "
                                      f"{', '.join(sorted(fact.agencies))}")
            if (agency, grade) in fact.grades:
                return URIRef(fact.grades[(agency, grade)])
            scale = sorted(g for a, g in fact.grades if a == agency)
            if scale:
                raise FactError(name, f"'{name}': '{grade}' is not on {agency}'s scale; "
                                      f"expected one of: {', '.join(scale)}")
            # an agency whose scale the KB does not hold: a grade the rules cannot rank
            slug = re.sub(r"[^a-z0-9]+", "-", grade.lower()).strip("-")
            return URIRef(f"{KB}rating-grade/{agency}-{slug}")
        if kind == "string":
            if not isinstance(value, str):
                raise FactError(name, f"'{name}' must be a string")
            return Literal(value)
        raise ValueError(f"input fact {name} has an unsupported value kind {kind}")

    def _check_size(self, name: str, value: Any) -> None:
        """Strings a fact carries (itself, or an object's members) are bounded before anything reads them."""
        texts = [value] if isinstance(value, str) else (
            [v for v in value.values() if isinstance(v, str)] if isinstance(value, dict) else [])
        if isinstance(value, dict) and len(value) > 10:
            raise FactError(name, f"'{name}' has {len(value)} members; a fact object has at most 10")
        for text in texts:
            if len(text) > self.max_string:
                raise FactError(name, f"'{name}' is {len(text)} characters long; at most {self.max_string} are read")

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, rule_id: str, facts: dict[str, Any], as_of: dt.date,
                 lang: str = "en", deadline: float | None = None) -> tuple[dict[str, Any], Graph]:
        """`deadline` (time.monotonic()): past it, the evaluation is not started (EvaluationTimeout), so
        that requests whose callers have been told 503 do not queue work for no one."""
        rule = self.get_rule(rule_id)
        lang = normalise_lang(lang)
        prepared = self.prepare(rule, facts)
        facts = prepared.facts
        facts_graph = self.facts_to_graph(rule, facts, as_of)
        added = list(facts_graph)
        for value in set(facts_graph.objects()):
            if isinstance(value, URIRef):  # labels, so that messages can name what the facts name
                added += [t for t in self._label_triples(value) if t not in rule.base]
        # The rule's KB slice stays in one Oxigraph store per rule, which pySHACL validates directly
        # (its SHACL-SPARQL then runs in Oxigraph: 3-8x faster than rdflib's engine here); each
        # evaluation adds its facts, validates in place and takes them out again. One lock for
        # all rules: the stores are shared, and the GIL leaves nothing to gain from parallel runs.
        quads = [to_oxigraph_quad(t) for t in added]
        with self.store_lock:
            if deadline is not None and time.monotonic() > deadline:
                raise EvaluationTimeout(rule_id)
            rule.store.extend(quads)
            try:
                _, report, _ = validate(rule.store, shacl_graph=rule.shapes, advanced=True, inference="none",
                                        allow_warnings=True, inplace=True)
            finally:
                for quad in quads:
                    rule.store.remove(quad)
        report_findings = _findings(report, rule.shapes)
        present = {name for name, value in facts.items() if value is not None and name in rule.facts}  # [] = "none"
        findings = report_findings
        criteria_out = []
        missing_counter: Counter[str] = Counter()
        for criterion in rule.criteria:
            missing = [f for f in criterion.requires if f not in present]
            if criterion.one_of and not present.intersection(criterion.one_of):
                missing.append(criterion.one_of[0])  # the message names the alternatives
            hits = [f for f in findings if f["shape"] in criterion.shape_nodes]
            violations = [f for f in hits if f["severity"] == "Violation"]
            warnings = [f for f in hits if f["severity"] != "Violation"]
            if missing:
                # a shape may object to an absent value (sh:hasValue); absence is unknown, not a failure
                outcome = "unknown"
                named = [" or ".join(criterion.one_of) if f in criterion.one_of else f for f in missing]
                message = MISSING_FACT.get(lang, MISSING_FACT["zh"]) + ", ".join(named)
                missing_counter.update(missing)
            elif violations:
                outcome, message = "fail", _pick(violations[0]["messages"], lang)
            elif warnings:
                outcome, message = "unknown", _pick(warnings[0]["messages"], lang)
            else:
                outcome, message = "pass", _pick(criterion.pass_messages, lang) or _pick(criterion.labels, lang)
            criteria_out.append({
                "id": criterion.id, "label": _pick(criterion.labels, lang), "outcome": outcome,
                "message": message, "requires": criterion.requires,
                "citations": self.citations(criterion.citation_iris, lang)})
        outcomes = {c["outcome"] for c in criteria_out}
        verdict = "ineligible" if "fail" in outcomes else ("undetermined" if "unknown" in outcomes else "eligible")
        order = [f for c in rule.criteria for f in (*c.requires, *c.one_of)]
        missing_facts = sorted(missing_counter, key=order.index)
        next_fact = max(missing_facts, key=lambda f: (missing_counter[f], -order.index(f))) if missing_facts else None
        answer = {
            "rule": rule.id, "label": _pick(rule.labels, lang), "as_of": as_of.isoformat(), "lang": lang,
            "verdict": verdict, "criteria": criteria_out, "missing_facts": missing_facts, "next_fact": next_fact,
            "ignored_facts": sorted(set(facts) - set(rule.facts)),
            "unstated_criteria": [{"id": to_id(a), "label": self.label_of(a, lang)} for a in rule.unstated],
            "citations": self.citations(rule.citation_iris, lang),
        }
        return self.annotate(rule, answer, prepared, lang), report

    def prepare(self, rule: Rule, facts: dict[str, Any]) -> Prepared:
        """The facts as the criteria read them: entity names resolved to ids, implied facts added."""
        try:
            return self.preparation.prepare(rule, facts)
        except PreparationError as exc:
            raise FactError(exc.field, exc.message) from None

    def annotate(self, rule: Rule, answer: dict[str, Any], prepared: Prepared, lang: str) -> dict[str, Any]:
        """What the answer says of the preparation and of the sources each outcome rests on."""
        return self.preparation.annotate(rule, answer, prepared, lang)

    def _label_triples(self, iri: URIRef) -> list[tuple[Any, Any, Any]]:
        key = str(iri)
        cached = self._labels_added.get(key)
        if cached is None:
            cached = [(iri, RDFS.label, Literal(text, lang=tag))
                      for lang, tag in (("en", "en"), ("zh", "zh-Hans"))
                      if (text := self.label_of(key, lang, exact=True))]
            self._labels_added.put(key, cached)
        return cached

    def get_rule(self, rule_id: str) -> Rule:
        try:
            return self.rules[rule_id]
        except KeyError:
            raise RuleNotFound(rule_id) from None

    # ------------------------------------------------------------------ catalogue
    def summary(self, rule: Rule, lang: str) -> dict[str, Any]:
        return {"id": rule.id, "iri": rule.iri, "label": _pick(rule.labels, lang), "labels": rule.labels,
                "applies_to": [{"id": to_id(a), "label": self.label_of(a, lang)} for a in rule.applies_to],
                "citations": self.citations(rule.citation_iris, lang)}

    def describe(self, rule_id: str, lang: str) -> dict[str, Any]:
        rule = self.get_rule(rule_id)
        return {**self.summary(rule, lang),
                "criteria": [{"id": c.id, "label": _pick(c.labels, lang), "labels": c.labels,
                              "requires": c.requires, "citations": self.citations(c.citation_iris, lang)}
                             for c in rule.criteria],
                "unstated_criteria": [{"id": to_id(a), "label": self.label_of(a, lang)} for a in rule.unstated],
                "facts_schema": self.json_schema(rule, lang)}

    def json_schema(self, rule: Rule, lang: str) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        for name, fact in rule.facts.items():
            item: dict[str, Any] = {
                "boolean": {"type": "boolean"}, "integer": {"type": "integer"}, "decimal": {"type": "number"},
                "date": {"type": "string", "format": "date"}, "string": {"type": "string"},
                "entity": {"type": "string", "pattern": _CODE.pattern},
                "concept": {"type": "string", "enum": sorted(fact.codes)},
                "iso4217": {"type": "string", "pattern": "^[A-Z]{3}$"},
                "rating": {"type": "object", "required": ["agency", "grade"], "additionalProperties": False,
                           "properties": {"agency": {"type": "string", "enum": sorted(fact.agencies)},
                                          "grade": {"type": "string",
                                                    "examples": sorted({g for _, g in fact.grades})}}},
            }[fact.kind]
            if fact.minimum is not None:  # the input's domain; a criterion's threshold is no input limit
                item["minimum"] = fact.minimum if isinstance(fact.minimum, int) else float(fact.minimum)
            if fact.kind == "entity" and fact.entity_class:
                known = self._select("SELECT ?cls ?code WHERE { ?e a ?cls ; ck:code ?code } ORDER BY ?code",
                                     {"cls": iri_node(fact.entity_class)})
                item["examples"] = [r["code"]["value"] for r in known]
            schema = {"type": "array", "items": item, "uniqueItems": True} if fact.multiple else item
            schema["title"] = _pick(fact.labels, lang)
            properties[name] = schema
        return {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
                "title": _pick(rule.labels, lang), "properties": properties, "additionalProperties": False}


def _label_entry_bytes(key: str, triples: list[tuple[Any, Any, Any]]) -> int:
    # the key is held twice (key and subject term); 200 bytes of object overhead per entry and triple
    return 200 + 2 * len(key.encode("utf-8")) + sum(200 + len(str(o).encode("utf-8")) for _, _, o in triples)


CheckOutcomes = dict[tuple[str, tuple[str, ...]], str | None]  # (query, pre-bound variables) → why not compiled


def compile_checks(rule: Rule, compiled: CheckOutcomes | None = None) -> list[Violation]:
    """Every SHACL-SPARQL text the rule's shapes run, prepared as pySHACL runs them (its prefixes, its
    pre-bound $this and $currentShape, Oxigraph's parser) against an empty store: what would otherwise
    fail only when an evaluation reaches it. The prepared texts are kept in `rule.checks`. `compiled`
    remembers why each text does not compile (None: it does) across rules, which share most checks:
    a text that does not compile is still reported for every shape that runs it."""
    compiled = {} if compiled is None else compiled
    problems: list[Violation] = []
    try:
        shapes = ShapesGraph(rule.shapes).shapes
    except (ConstraintLoadError, ReportableRuntimeError) as exc:
        return [Violation(f"the rule's shapes do not load: {_first_line(exc)}", f"rule {rule.id}", None, None,
                          "Violation")]
    for shape in shapes:
        if not set(shape.objects(SH.sparql)):
            continue
        where = f"rule {rule.id}, shape {to_id(str(shape.node)) if isinstance(shape.node, URIRef) else 'blank node'}"
        try:
            component = SPARQLBasedConstraint(shape)
        except (ConstraintLoadError, ReportableRuntimeError) as exc:
            problems.append(Violation(_first_line(exc), where, None, None, "Violation"))
            continue
        for helper in component.sparql_constraints:
            check = to_id(str(helper.node)) if isinstance(helper.node, URIRef) else "a blank-node sh:sparql"
            try:
                bindings, text = helper.pre_bind_variables(FACT_SET)
                substitutions = {ox.Variable(name): to_oxigraph(term) for name, term in bindings.items()}
                query = helper.apply_prefixes(text)
            except _COMPILE_ERRORS as exc:
                why = _first_line(exc)
            else:
                key = (query, tuple(sorted(bindings)))
                if key not in compiled:
                    compiled[key] = _why_not(query, substitutions)
                why = compiled[key]
                if why is None:
                    rule.checks[(str(shape.node), str(helper.node))] = (query, substitutions)
            if why is not None:
                problems.append(Violation(f"the SPARQL does not compile: {why}", check, where, None, "Violation"))
    return problems


_COMPILE_ERRORS = (SyntaxError, ValueError, RuntimeError, OSError, ValidationFailure, ReportableRuntimeError,
                   NotImplementedError)


def _why_not(query: str, substitutions: dict[ox.Variable, Any]) -> str | None:
    """Why Oxigraph cannot run the query, on an empty store; None where it can."""
    try:
        result = ox.Store().query(query, substitutions=substitutions)
        if isinstance(result, ox.QuerySolutions):
            list(result)
    except _COMPILE_ERRORS as exc:
        return _first_line(exc)
    return None


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", None) or exc)
    return " ".join(text.split())[:500]


def _check_minimum(fact: InputFact, value: int | float | Decimal) -> None:
    if fact.minimum is not None and value < fact.minimum:
        raise FactError(fact.name, f"'{fact.name}' must be a number of at least {fact.minimum}")


def _template_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{[?$]\w+\}", template)
    return re.compile("^" + "(?s:.*?)".join(re.escape(p) for p in parts) + "$")


def _message_languages(message: Any, constraint: Any, shapes: Graph) -> list[str]:
    """pySHACL drops the language tag when it fills a SPARQL message template: recover it from the
    template the message was made from. Templates whose fixed words read the same in Simplified and
    Traditional Chinese give one message for both: it is each one's."""
    key = lang_key(getattr(message, "language", None))
    if key:
        return [key]
    found: list[str] = []
    for template in shapes.objects(constraint, SH.message) if constraint is not None else ():
        if _template_pattern(str(template)).match(str(message)):
            lang = lang_key(getattr(template, "language", None)) or "en"
            if lang not in found:
                found.append(lang)
    return found or ["zh" if _CJK.search(str(message)) else "en"]


def _findings(report: Graph, shapes: Graph) -> list[dict[str, Any]]:
    out = []
    for result in report.subjects(RDF.type, SH.ValidationResult):
        messages: dict[str, str] = {}
        constraint = report.value(result, SH.sourceConstraint)
        for m in report.objects(result, SH.resultMessage):
            for lang in _message_languages(m, constraint, shapes):
                messages.setdefault(lang, str(m))
        severity = str(report.value(result, SH.resultSeverity) or "").rsplit("#", 1)[-1]
        out.append({"shape": report.value(result, SH.sourceShape), "severity": severity, "messages": messages})
    return out


def _as_select(construct: str) -> str:
    """Run a declared CONSTRUCT slice as SELECT ?s ?p ?o over its WHERE clause (backends answer SELECT)."""
    match = re.search(r"CONSTRUCT\s*\{\s*\?s\s+\?p\s+\?o\s*\.?\s*\}\s*WHERE", construct, re.IGNORECASE)
    if not match:
        raise ValueError("a ck:kbSlice must be 'CONSTRUCT { ?s ?p ?o } WHERE { … }'")
    return "SELECT DISTINCT ?s ?p ?o WHERE" + construct[match.end():]


__all__ = ["FACT_SET", "PREFIXES", "EvaluationTimeout", "FactError", "RuleChecksInvalid", "RuleNotFound",
           "RulesEngine", "compile_checks"]
