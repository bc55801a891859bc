"""Running a rule's own SHACL-SPARQL check on a copy of the store the reference validates, with given
fact triples: how the compiler reads what only Oxigraph decides (GROUP_CONCAT and SAMPLE order, the
first of several results), once at start-up or, rarely, on demand."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from rdflib import RDF, RDFS, XSD, Literal, URIRef

from ...common.namespaces import CK
from ...knowledge.loader import to_oxigraph_quad

FACT_SET = URIRef("https://w3id.org/connectkb/evaluation/fact-set")


class Prober:
    def __init__(self, rule: Any, label_of: Any, lock: Any = None):
        self.rule = rule
        self.label_of = label_of
        # The rule's own store, which the reference validates: GROUP_CONCAT order is the store's
        # (a copy of the same quads orders them differently). Probes hold the reference's lock.
        self.lock = lock or threading.Lock()
        # (shape IRI, check IRI) → (query text, pre-bound variables), as pySHACL runs it: prepared by
        # the reference engine's compile_checks
        self.helpers: dict[tuple[str, str], tuple[str, dict[Any, Any]]] = rule.checks
        self.runs = 0  # probes run (at compile time, then at evaluation time)

    def fact_triples(self, values: dict[str, list[Any]], as_of: dt.date) -> list[tuple[Any, Any, Any]]:
        """The fact set as the reference adds it: type, as-of, facts, and the labels of IRIs it names."""
        triples = [(FACT_SET, RDF.type, URIRef(self.rule.fact_set_class)),
                   (FACT_SET, CK.asOf, Literal(as_of.isoformat(), datatype=XSD.date))]
        for fact_iri, terms in values.items():
            for t in terms:
                triples.append((FACT_SET, URIRef(fact_iri), rdf_term(t)))
                if isinstance(t, str):
                    for lang, tag in (("en", "en"), ("zh", "zh-Hans")):
                        text = self.label_of(t, lang, exact=True)
                        if text:
                            triples.append((URIRef(t), RDFS.label, Literal(text, lang=tag)))
        return triples

    def run(self, shape: str, check: str, triples: list[tuple[Any, Any, Any]]) -> list[dict[str, str]]:
        """The rows the check yields for this fact set, in Oxigraph's order (bound variables only)."""
        text, subs = self.helpers[(shape, check)]
        self.runs += 1
        store = self.rule.store
        quads = [to_oxigraph_quad(t) for t in triples]
        with self.lock:
            added = [q for q in quads if q not in store]
            store.extend(added)
            try:
                rows = self._query(store, text, subs)
            finally:
                for q in added:
                    store.remove(q)
        return rows

    @staticmethod
    def _query(store: Any, text: str, subs: Any) -> list[dict[str, str]]:
        if True:
            result = store.query(text, substitutions=subs)
            rows = []
            for solution in result:
                row = {}
                for var in result.variables:
                    value = solution[var]
                    if value is not None:
                        row[var.value] = value.value
                rows.append(row)
        return rows


def rdf_term(t: Any) -> Any:
    if isinstance(t, str):
        return URIRef(t)
    tag, value = t
    if tag == "b":
        return Literal(value)
    if tag == "i":
        return Literal(value, datatype=XSD.integer)
    if tag == "d":
        return Literal(decimal_lexical(value), datatype=XSD.decimal)
    if tag == "t":
        return Literal(value.isoformat(), datatype=XSD.date)
    return Literal(value)


def decimal_lexical(value: Any) -> str:
    """The canonical xsd:decimal text Oxigraph gives STR() of a decimal: no exponent, no trailing zeros."""
    text = format(value.normalize(), "f") if value else "0"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
