"""The rules engine: eligibility rules are SHACL shapes in the KB; evaluating one is facts → RDF →
pySHACL → a three-valued verdict with each criterion's outcome, message and citations.

Nothing here knows any rule: rules, criteria, input facts, code lists, thresholds and dates are read
from the KB at start-up, so a new rule is new Turtle only.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox
from pyshacl import validate
from rdflib import XSD, Graph, Literal, Namespace, URIRef
from rdflib.namespace import RDF, RDFS

from . import shacl_check_cache
from .entities import _lang_key, normalise_lang, to_id
from .loader import to_oxigraph_quad
from .namespaces import CK, KB, PREFIXES, sparql_prologue
from .store import Row, SparqlBackend, rdflib_term

SH = Namespace("http://www.w3.org/ns/shacl#")
FACT_SET = URIRef("https://w3id.org/connectkb/evaluation/fact-set")
_PROLOGUE = sparql_prologue()
shacl_check_cache.install()
_CJK = re.compile(r"[\u4e00-\u9fff]")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")
_SHAPE_PATH = ("sh:property|sh:sparql|sh:or|sh:and|sh:not|sh:xone|sh:node|sh:qualifiedValueShape|sh:in|"
               "sh:path|sh:prefixes|sh:declare|sh:inversePath|sh:alternativePath|sh:zeroOrMorePath|"
               "sh:oneOrMorePath|sh:zeroOrOnePath|sh:values|rdf:first|rdf:rest")


class RuleNotFound(KeyError):
    pass


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
    base: Graph  # the KB slice, the criteria's parameters and labels: what every evaluation reads
    store: ox.Store = field(default_factory=ox.Store)  # `base`, as the store pySHACL validates


def _labels(rows: list[Row], var: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for row in rows:
        if var in row and _lang_key(row[var].get("xml:lang")):
            out.setdefault(_lang_key(row[var].get("xml:lang")), row[var]["value"])  # type: ignore[arg-type]
    return out


def _pick(texts: dict[str, str], lang: str) -> str | None:
    return texts.get(lang) or texts.get("en") or next(iter(texts.values()), None)


class RulesEngine:
    def __init__(self, backend: SparqlBackend, citations: Any, label_of: Any):
        """`citations(iris, lang)` and `label_of(iri, lang)` come from the entity service."""
        self.backend = backend
        self._citations = citations
        self._label_of = label_of
        self._labels_added: dict[str, list[tuple[Any, Any, Any]]] = {}
        self._lock = threading.Lock()
        names = {r["n"]["value"] for r in self._select("SELECT ?n WHERE { ?f a ck:InputFact ; ck:jsonName ?n }")}
        self.input_facts = self._load_facts(names)
        self.rules: dict[str, Rule] = {r.id: r for r in self._load_rules()}

    # ------------------------------------------------------------------ loading
    def _select(self, query: str) -> list[Row]:
        return self.backend.select(_PROLOGUE + query)

    def _load_rules(self) -> list[Rule]:
        rules = []
        for row in self._select("SELECT ?r ?code ?cls WHERE { ?r a ck:EligibilityRule ; ck:code ?code ; "
                                "ck:factSetClass ?cls } ORDER BY ?code"):
            rules.append(self._load_rule(row["r"]["value"], row["code"]["value"], row["cls"]["value"]))
        return rules

    def _load_rule(self, iri: str, code: str, fact_set_class: str) -> Rule:
        one = f"<{iri}>"
        labels = _labels(self._select(f"SELECT ?l WHERE {{ {one} rdfs:label ?l }}"), "l")
        applies = sorted(r["x"]["value"] for r in self._select(f"SELECT ?x WHERE {{ {one} ck:appliesTo ?x }}"))
        cites = sorted(r["c"]["value"] for r in self._select(f"SELECT ?c WHERE {{ {one} ck:citation ?c }}"))
        # what the source leaves unstated: said on the rule, or on the index it applies
        unstated = sorted({r["a"]["value"] for r in self._select(
            f"SELECT ?a WHERE {{ {{ {one} ck:unstatedAspect ?a }} UNION "
            f"{{ {one} ck:appliesTo/ck:aspectNotStated ?a }} }}")})
        criteria = []
        for row in self._select(f"""SELECT ?c ?code (SAMPLE(?o) AS ?ord) WHERE {{
                {one} ck:hasCriterion ?c . ?c ck:code ?code . OPTIONAL {{ ?c ck:ordinal ?o }}
            }} GROUP BY ?c ?code"""):
            c = row["c"]["value"]
            crit_rows = self._select(f"""SELECT ?l ?m ?f ?alt ?reads ?cite WHERE {{
                {{ <{c}> rdfs:label ?l }} UNION {{ <{c}> ck:passMessage ?m }} UNION
                {{ <{c}> ck:requiresFact/ck:jsonName ?f }} UNION {{ <{c}> ck:requiresOneOf/ck:jsonName ?alt }} UNION
                {{ <{c}> ck:readsFact/ck:jsonName ?reads }} UNION {{ <{c}> ck:citation ?cite }} }}""")
            criteria.append(Criterion(
                iri=c, id=row["code"]["value"], ordinal=int(row.get("ord", {}).get("value", 999)),
                labels=_labels(crit_rows, "l"), pass_messages=_labels(crit_rows, "m"),
                requires=sorted({r["f"]["value"] for r in crit_rows if "f" in r}),
                one_of=sorted({r["alt"]["value"] for r in crit_rows if "alt" in r}),
                reads=sorted({r["reads"]["value"] for r in crit_rows if "reads" in r}),
                citation_iris=sorted({r["cite"]["value"] for r in crit_rows if "cite" in r})))
        criteria.sort(key=lambda c: (c.ordinal, c.id))
        facts = {name: self.input_facts[name] for c in criteria for name in (*c.requires, *c.one_of, *c.reads)}
        shapes = self._shapes_graph(criteria)
        parameters = Graph()
        for s, p, o in shapes:  # what checks read of their criterion shape: parameters and labels
            if isinstance(s, URIRef) and (str(p).startswith(str(CK)) or p == RDFS.label):
                parameters.add((s, p, o))
        base = self._implied_slice(parameters) + self._scheme_mappings(facts)
        for row in self._select(f"SELECT ?q WHERE {{ {one} ck:kbSlice ?q }}"):  # extra KB a custom shape reads
            base += self._construct(row["q"]["value"])
        base += parameters  # criterion shapes' own parameters, read through $currentShape
        for value in set(parameters.objects()):
            if isinstance(value, URIRef):
                for triple in self._label_triples(value):
                    base.add(triple)
        store = ox.Store()
        store.bulk_extend(to_oxigraph_quad(t) for t in base)
        return Rule(iri=iri, id=code, labels=labels, applies_to=applies, fact_set_class=fact_set_class,
                    criteria=criteria, facts=facts, citation_iris=cites, unstated=unstated, shapes=shapes,
                    base=base, store=store)

    def _load_facts(self, names: set[str]) -> dict[str, InputFact]:
        facts: dict[str, InputFact] = {}
        for name in sorted(names):
            rows = self._select(f"""SELECT ?f ?kind ?multiple ?l ?scheme ?cls WHERE {{
                ?f a ck:InputFact ; ck:jsonName "{name}" ; ck:valueKind/ck:code ?kind .
                OPTIONAL {{ ?f ck:multiple ?multiple }} OPTIONAL {{ ?f rdfs:label ?l }}
                OPTIONAL {{ ?f ck:valuesFrom ?scheme }} OPTIONAL {{ ?f ck:entityClass ?cls }} }}""")
            if not rows:
                raise ValueError(f"a criterion requires input fact '{name}', which no ck:InputFact declares")
            first = rows[0]
            fact = InputFact(iri=first["f"]["value"], name=name, kind=first["kind"]["value"],
                             multiple=first.get("multiple", {}).get("value") == "true", labels=_labels(rows, "l"),
                             entity_class=first.get("cls", {}).get("value"))
            if "scheme" in first:
                fact.scheme = first["scheme"]["value"]
                for row in self._select(f"""SELECT ?c ?code WHERE {{
                        ?c skos:inScheme <{fact.scheme}> ; ck:code ?code }}"""):
                    fact.codes[row["code"]["value"]] = row["c"]["value"]
            if fact.kind == "rating":
                for row in self._select(f"""SELECT ?c ?agency ?symbol WHERE {{ ?c skos:inScheme <{fact.scheme}> ;
                        ck:ratingAgency/ck:code ?agency ; ck:ratingSymbol ?symbol }}"""):
                    fact.grades[(row["agency"]["value"], row["symbol"]["value"])] = row["c"]["value"]
                fact.agencies = {r["code"]["value"] for r in self._select(
                    "SELECT ?code WHERE { ?a skos:inScheme kb:rating-agency-scheme ; ck:code ?code }")}
            facts[name] = fact
        return facts

    def _implied_slice(self, parameters: Graph) -> Graph:
        """The KB facts the shared checks read, implied by the criteria's parameters: every fact of
        each arrangement a criterion names (ck:eligibleUnder), and every assignment of each role it
        names (ck:heldRole) with its member's labels and its arrangement's start."""
        graph = Graph()
        for under in set(parameters.objects(None, CK.eligibleUnder)):
            graph += self._construct(f"""CONSTRUCT {{ ?s ?p ?o }} WHERE {{
                {{ BIND(<{under}> AS ?s) ?s ?p ?o }}
                UNION {{ <{under}> ?q ?s . FILTER(?q != ck:citation) ?s ?p ?o .
                         FILTER(?p NOT IN (skos:definition, skos:editorialNote, ck:citation)) }} }}""")
        for role in set(parameters.objects(None, CK.heldRole)):
            graph += self._construct(f"""CONSTRUCT {{ ?s ?p ?o }} WHERE {{
                {{ ?s org:role <{role}> ; ?p ?o }}
                UNION {{ ?ra org:role <{role}> ; org:member ?s . ?s ?p ?o . FILTER(?p IN (rdfs:label, ck:code)) }}
                UNION {{ ?ra org:role <{role}> ; ck:withinArrangement ?s . ?s ?p ?o .
                         FILTER(?p = ck:effectiveFromPeriod) }} }}""")
        return graph

    def _scheme_mappings(self, facts: dict[str, InputFact]) -> Graph:
        """What the checks read of the facts' own code lists: mappings and rating scales."""
        graph = Graph()
        for scheme in sorted({f.scheme for f in facts.values() if f.scheme}):
            graph += self._construct(f"""CONSTRUCT {{ ?s ?p ?o }} WHERE {{ ?s skos:inScheme <{scheme}> ; ?p ?o .
                FILTER(?p IN (skos:exactMatch, ck:ratingAgency, ck:ratingRank, ck:investmentGrade)) }}""")
        return graph

    def _construct(self, query: str) -> Graph:
        graph = Graph()
        for row in self.backend.select(_PROLOGUE + _as_select(query)):
            graph.add((rdflib_term(row["s"]), rdflib_term(row["p"]), rdflib_term(row["o"])))
        return graph

    def _shapes_graph(self, criteria: list[Criterion]) -> Graph:
        """The criteria's shapes with everything they hang on (property shapes, SPARQL, prefixes)."""
        roots = " ".join(f"<{c.iri}>" for c in criteria)
        rows = self._select(f"""SELECT ?root ?s ?p ?o WHERE {{
            VALUES ?root {{ {roots} }}
            {{ ?root ({_SHAPE_PATH})* ?s }} UNION {{ ?root ck:undeterminedShape/({_SHAPE_PATH})* ?s }}
            ?s ?p ?o }}""")
        graph = Graph()
        by_iri = {c.iri: c for c in criteria}
        for row in rows:
            s = rdflib_term(row["s"])
            graph.add((s, rdflib_term(row["p"]), rdflib_term(row["o"])))
            by_iri[row["root"]["value"]].shape_nodes.add(s)
        return graph

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
            for item in values:
                term = self._fact_value(fact, item)
                if name in rule.facts:
                    graph.add((FACT_SET, URIRef(fact.iri), term))
        return graph

    def _fact_value(self, fact: InputFact, value: Any) -> URIRef | Literal:
        name, kind = fact.name, fact.kind
        if kind == "boolean":
            if not isinstance(value, bool):
                raise FactError(name, f"'{name}' must be true or false")
            return Literal(value)
        if kind == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                raise FactError(name, f"'{name}' must be a whole number")
            return Literal(value, datatype=XSD.integer)
        if kind == "decimal":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise FactError(name, f"'{name}' must be a number")
            return Literal(str(value), datatype=XSD.decimal)
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

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, rule_id: str, facts: dict[str, Any], as_of: dt.date,
                 lang: str = "en") -> tuple[dict[str, Any], Graph]:
        rule = self.get_rule(rule_id)
        lang = normalise_lang(lang)
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
        with self._lock:
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
                message = ("missing fact: " if lang == "en" else "缺少事实：") + ", ".join(named)
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
                "citations": self._citations(criterion.citation_iris, lang)})
        outcomes = {c["outcome"] for c in criteria_out}
        verdict = "ineligible" if "fail" in outcomes else ("undetermined" if "unknown" in outcomes else "eligible")
        order = [f for c in rule.criteria for f in (*c.requires, *c.one_of)]
        missing_facts = sorted(missing_counter, key=order.index)
        next_fact = max(missing_facts, key=lambda f: (missing_counter[f], -order.index(f))) if missing_facts else None
        answer = {
            "rule": rule.id, "label": _pick(rule.labels, lang), "as_of": as_of.isoformat(), "lang": lang,
            "verdict": verdict, "criteria": criteria_out, "missing_facts": missing_facts, "next_fact": next_fact,
            "ignored_facts": sorted(set(facts) - set(rule.facts)),
            "unstated_criteria": [{"id": to_id(a), "label": self._label_of(a, lang)} for a in rule.unstated],
            "citations": self._citations(rule.citation_iris, lang),
        }
        return answer, report

    def _label_triples(self, iri: URIRef) -> list[tuple[Any, Any, Any]]:
        key = str(iri)
        if key not in self._labels_added:
            self._labels_added[key] = [(iri, RDFS.label, Literal(text, lang=tag))
                                       for lang, tag in (("en", "en"), ("zh", "zh-Hans"))
                                       if (text := self._label_of(key, lang, exact=True))]
        return self._labels_added[key]

    def get_rule(self, rule_id: str) -> Rule:
        try:
            return self.rules[rule_id]
        except KeyError:
            raise RuleNotFound(rule_id) from None

    # ------------------------------------------------------------------ catalogue
    def summary(self, rule: Rule, lang: str) -> dict[str, Any]:
        return {"id": rule.id, "iri": rule.iri, "label": _pick(rule.labels, lang), "labels": rule.labels,
                "applies_to": [{"id": to_id(a), "label": self._label_of(a, lang)} for a in rule.applies_to],
                "citations": self._citations(rule.citation_iris, lang)}

    def describe(self, rule_id: str, lang: str) -> dict[str, Any]:
        rule = self.get_rule(rule_id)
        return {**self.summary(rule, lang),
                "criteria": [{"id": c.id, "label": _pick(c.labels, lang), "labels": c.labels,
                              "requires": c.requires, "citations": self._citations(c.citation_iris, lang)}
                             for c in rule.criteria],
                "unstated_criteria": [{"id": to_id(a), "label": self._label_of(a, lang)} for a in rule.unstated],
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
            item.update(_bounds(rule.shapes, fact.iri))
            if fact.kind == "entity" and fact.entity_class:
                known = self._select(f"SELECT ?code WHERE {{ ?e a <{fact.entity_class}> ; ck:code ?code }} "
                                     "ORDER BY ?code")
                item["examples"] = [r["code"]["value"] for r in known]
            schema = {"type": "array", "items": item, "uniqueItems": True} if fact.multiple else item
            schema["title"] = _pick(fact.labels, lang)
            properties[name] = schema
        return {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
                "title": _pick(rule.labels, lang), "properties": properties, "additionalProperties": False}


def _bounds(shapes: Graph, fact_iri: str) -> dict[str, Any]:
    """Numeric bounds a property shape puts on a fact, for the JSON Schema."""
    out: dict[str, Any] = {}
    for shape in shapes.subjects(SH.path, URIRef(fact_iri)):
        for pred, key in ((SH.minInclusive, "minimum"), (SH.maxInclusive, "maximum"),
                          (SH.minExclusive, "exclusiveMinimum"), (SH.maxExclusive, "exclusiveMaximum")):
            value = shapes.value(shape, pred)
            if value is not None:
                out[key] = value.toPython() if not isinstance(value.toPython(), str) else float(value)
    return out


def _template_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{[?$]\w+\}", template)
    return re.compile("^" + "(?s:.*?)".join(re.escape(p) for p in parts) + "$")


def _message_language(message: Any, constraint: Any, shapes: Graph) -> str:
    """pySHACL drops the language tag when it fills a SPARQL message template: recover it from the
    template the message was made from."""
    key = _lang_key(getattr(message, "language", None))
    if key:
        return key
    for template in shapes.objects(constraint, SH.message) if constraint is not None else ():
        if _template_pattern(str(template)).match(str(message)):
            return _lang_key(getattr(template, "language", None)) or "en"
    return "zh" if _CJK.search(str(message)) else "en"


def _findings(report: Graph, shapes: Graph) -> list[dict[str, Any]]:
    out = []
    for result in report.subjects(RDF.type, SH.ValidationResult):
        messages: dict[str, str] = {}
        constraint = report.value(result, SH.sourceConstraint)
        for m in report.objects(result, SH.resultMessage):
            messages.setdefault(_message_language(m, constraint, shapes), str(m))
        severity = str(report.value(result, SH.resultSeverity) or "").rsplit("#", 1)[-1]
        out.append({"shape": report.value(result, SH.sourceShape), "severity": severity, "messages": messages})
    return out


def _as_select(construct: str) -> str:
    """Run a declared CONSTRUCT slice as SELECT ?s ?p ?o over its WHERE clause (backends answer SELECT)."""
    match = re.search(r"CONSTRUCT\s*\{\s*\?s\s+\?p\s+\?o\s*\.?\s*\}\s*WHERE", construct, re.IGNORECASE)
    if not match:
        raise ValueError("a ck:kbSlice must be 'CONSTRUCT { ?s ?p ?o } WHERE { … }'")
    return "SELECT DISTINCT ?s ?p ?o WHERE" + construct[match.end():]


__all__ = ["FACT_SET", "PREFIXES", "FactError", "RuleNotFound", "RulesEngine"]
