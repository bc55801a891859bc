"""The media types the endpoint answers in, per kind of result, and content negotiation among them.
A pure function of the query form and the Accept header, so it runs in the worker once the form is
known."""

from __future__ import annotations

import pyoxigraph as ox

from ..common.negotiation import negotiate
from .errors import QueryFailed

RESULT_FORMATS = {
    "application/sparql-results+json": ox.QueryResultsFormat.JSON,
    "application/sparql-results+xml": ox.QueryResultsFormat.XML,
    "text/csv": ox.QueryResultsFormat.CSV,
    "text/tab-separated-values": ox.QueryResultsFormat.TSV,
}
GRAPH_FORMATS = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
    "application/ld+json": ox.RdfFormat.JSON_LD,
}
# what each media type a client may name resolves to, per kind of result
RESULT_ALIASES = {**{m: m for m in RESULT_FORMATS}, "application/json": "application/sparql-results+json",
                  "application/xml": "application/sparql-results+xml", "text/xml": "application/sparql-results+xml"}
GRAPH_ALIASES = {**{m: m for m in GRAPH_FORMATS}, "application/x-turtle": "text/turtle",
                 "text/plain": "application/n-triples", "application/json": "application/ld+json",
                 "application/xml": "application/rdf+xml"}


def choose_media(form: str, accept: str | None) -> str:
    """The media type to answer a `form` query with; QueryFailed(406) when the client accepts none."""
    if form in ("SELECT", "ASK"):
        preferred = list(RESULT_FORMATS) if form == "SELECT" else list(RESULT_FORMATS)[:2]
        media = negotiate(accept, RESULT_ALIASES, preferred)
    else:
        preferred = list(GRAPH_FORMATS)
        media = negotiate(accept, GRAPH_ALIASES, preferred)
    if media is None:
        raise QueryFailed(406, f"none of the accepted media types can carry a {form} result; "
                               f"this endpoint offers: {', '.join(preferred)}")
    return media
