"""The SPARQL service for a loaded KB: killable workers over in-memory copies of the embedded store, or
check-only workers in front of the external SPARQL server when the engines run on one."""

from __future__ import annotations

import os

from ..common.namespaces import sparql_prologue
from ..knowledge.load import LoadedKB
from ..knowledge.stores import RemoteStore, RemoteStoreError, RemoteTimeout
from .errors import QueryFailed
from .pool import QueryAnswer, QueryPool, QueryRequest
from .protocol import MAX_QUERY_BYTES, SparqlService, allowed_graphs


def _license(kb: LoadedKB) -> str | None:
    rows = kb.backend.select(sparql_prologue() + "SELECT ?l WHERE { kb:dataset dcterms:license ?l } LIMIT 1")
    return rows[0]["l"]["value"] if rows else None


def sparql_service(kb: LoadedKB, timeout_s: float | None = None, modified: str | None = None) -> SparqlService:
    """`modified`: the current release's issue date, for VoID."""
    timeout = timeout_s or float(os.environ.get("CONNECTKB_SPARQL_TIMEOUT_S", "10"))
    max_rows = int(os.environ.get("CONNECTKB_SPARQL_MAX_ROWS", "10000"))
    max_bytes = int(os.environ.get("CONNECTKB_SPARQL_MAX_BYTES", "20000000"))
    max_query_bytes = int(os.environ.get("CONNECTKB_SPARQL_MAX_QUERY_BYTES", str(MAX_QUERY_BYTES)))
    workers = int(os.environ.get("CONNECTKB_SPARQL_WORKERS", "2"))
    backend = kb.backend
    if isinstance(backend, RemoteStore):
        # the external server runs the query — only the canonical text the guard checked — and its own
        # --timeout-s stops runaways there; the workers here only canonicalize, parse and check
        graphs = {r["g"]["value"] for r in backend.select("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")}
        checker = QueryPool(None, workers=workers, timeout_s=timeout, allowed_graphs=graphs)

        def forward(request: QueryRequest) -> QueryAnswer:
            checked = checker.check(request)
            query = checked.query
            try:
                body = backend.forward(query.text, checked.media_type,
                                       query.default_graphs if query.dataset_from_protocol else [],
                                       query.named_graphs if query.dataset_from_protocol else [], timeout_s=timeout)
            except RemoteTimeout as exc:
                raise QueryFailed(503, str(exc)) from None
            except RemoteStoreError as exc:
                raise QueryFailed(502, str(exc)) from None
            if len(body) > max_bytes:
                raise QueryFailed(400, f"the result is larger than {max_bytes} bytes, this endpoint's cap")
            return QueryAnswer(body, checked.media_type)

        # a forward outlasts its check: twice the checkers' capacity may be in flight
        return SparqlService(forward, lambda: graphs, kb.triple_count, kb.release, max_rows, max_bytes,
                             close=checker.close, max_query_bytes=max_query_bytes, capacity=2 * checker.capacity,
                             license=_license(kb), modified=modified)
    store = backend.store
    pool = QueryPool(store, workers=workers, timeout_s=timeout)
    return SparqlService(pool.run, allowed_graphs(store), kb.triple_count, kb.release, max_rows, max_bytes,
                         close=pool.close, max_query_bytes=max_query_bytes, capacity=pool.capacity,
                         license=_license(kb), modified=modified)
