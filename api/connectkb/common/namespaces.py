"""RDF namespaces of connectkb and the vocabularies it reuses, and the prefix block for queries."""

from __future__ import annotations

from rdflib import Namespace

BASE = "https://w3id.org/connectkb/"
CK = Namespace(BASE + "ontology/")
KB = Namespace(BASE + "id/")

PREFIXES: dict[str, str] = {
    "ck": str(CK),
    "kb": str(KB),
    "src": str(KB) + "source/",
    "cite": str(KB) + "citation/",
    "stat": str(KB) + "statistic/",
    "amt": str(KB) + "amount/",
    "ra": str(KB) + "role-assignment/",
    "corr": str(KB) + "correction/",
    "tier": str(KB) + "tier/",
    "unit": str(KB) + "unit/",
    "status": str(KB) + "status/",
    "bondtype": str(KB) + "bond-type/",
    "tenor": str(KB) + "tenor/",
    "mode": str(KB) + "transaction-mode/",
    "iso4217": "https://spec.edmcouncil.org/fibo/ontology/FND/Accounting/ISO4217-CurrencyCodes/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "dcterms": "http://purl.org/dc/terms/",
    "prov": "http://www.w3.org/ns/prov#",
    "org": "http://www.w3.org/ns/org#",
    "time": "http://www.w3.org/2006/time#",
    "sh": "http://www.w3.org/ns/shacl#",
    "cccev": "http://data.europa.eu/m8g/",
    "fse": "https://spec.edmcouncil.org/fibo/ontology/FBC/FunctionalEntities/FinancialServicesEntities/",
    "mkt": "https://spec.edmcouncil.org/fibo/ontology/FBC/FunctionalEntities/Markets/",
}


def sparql_prologue() -> str:
    return "".join(f"PREFIX {p}: <{iri}>\n" for p, iri in PREFIXES.items())


def compact(iri: str) -> str:
    """The shortest prefixed form of an IRI (e.g. 'cite:s000-x'), or the IRI itself."""
    best = iri
    for prefix, ns in PREFIXES.items():
        if iri.startswith(ns) and len(iri) - len(ns) + len(prefix) + 1 < len(best):
            best = f"{prefix}:{iri[len(ns):]}"
    return best
