"""Query backends. Engines speak SPARQL and get SPARQL 1.1 JSON-results rows back, so the embedded
Oxigraph store and an external SPARQL endpoint are interchangeable."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pyoxigraph as ox

from ..common.backend import Bindings, Row, substitutions, term_to_json, values_clause

if TYPE_CHECKING:
    import httpx


class EmbeddedStore:
    """The in-process Oxigraph store (read-only once loaded)."""

    def __init__(self, store: ox.Store):
        self.store = store

    def __len__(self) -> int:
        return len(self.store)

    def select(self, query: str, bindings: Bindings | None = None) -> list[Row]:
        solutions = self.store.query(query, substitutions=substitutions(bindings))
        if not isinstance(solutions, ox.QuerySolutions):
            raise TypeError("select() needs a SELECT query")
        names = [v.value for v in solutions.variables]
        return [{name: term_to_json(term) for name, term in zip(names, solution, strict=True) if term is not None}
                for solution in solutions]

    def ask(self, query: str, bindings: Bindings | None = None) -> bool:
        result = self.store.query(query, substitutions=substitutions(bindings))
        if not isinstance(result, ox.QueryBoolean):
            raise TypeError("ask() needs an ASK query")
        return bool(result)


class RemoteStoreError(RuntimeError):
    """The external SPARQL server could not answer."""


class RemoteTimeout(RemoteStoreError):
    """The external SPARQL server did not answer within the time limit."""


class RemoteStore:
    """An external SPARQL 1.1 endpoint (Oxigraph server, Virtuoso, GraphDB, Neptune…), queried over HTTP
    with the SPARQL 1.1 Protocol; answers come back in the same JSON-results shape as EmbeddedStore's."""

    def __init__(self, query_url: str, timeout_s: float = 30.0):
        self.query_url = query_url
        self.timeout_s = timeout_s
        self._client: httpx.Client | None = None
        self._pid = 0

    @property
    def client(self) -> httpx.Client:
        """The connection pool of this process: `serve --workers` forks after the KB is loaded, and two
        processes writing to one inherited keep-alive connection would read each other's answers."""
        import httpx  # only an external store needs it: not imported by every start-up

        if self._client is None or self._pid != os.getpid():
            self._client, self._pid = httpx.Client(timeout=self.timeout_s), os.getpid()
        return self._client

    def _post(self, data: dict[str, str | list[str]], accept: str, timeout_s: float | None = None) -> httpx.Response:
        import httpx

        client = self.client
        try:
            response = client.post(self.query_url, data=data, headers={"Accept": accept},
                                   timeout=timeout_s or client.timeout)
        except httpx.TimeoutException as exc:
            raise RemoteTimeout(f"the SPARQL server at {self.query_url} did not answer in time: {exc}") from exc
        except httpx.HTTPError as exc:
            raise RemoteStoreError(f"the SPARQL server at {self.query_url} did not answer: {exc}") from exc
        if response.status_code != 200:
            raise RemoteStoreError(f"the SPARQL server at {self.query_url} answered {response.status_code}: "
                                   f"{response.text[:500]}")
        return response

    def select(self, query: str, bindings: Bindings | None = None) -> list[Row]:
        body = self._post({"query": _bound(query, bindings)}, "application/sparql-results+json").json()
        return [{name: _normalise(term) for name, term in row.items()} for row in body["results"]["bindings"]]

    def ask(self, query: str, bindings: Bindings | None = None) -> bool:
        return bool(self._post({"query": _bound(query, bindings)},
                               "application/sparql-results+json").json()["boolean"])

    def forward(self, query: str, accept: str, default_graphs: list[str], named_graphs: list[str],
                timeout_s: float | None = None) -> bytes:
        """Run a (guarded) query as the client asked, for the SPARQL endpoint. The wait ends after
        `timeout_s`; stopping the query on the server is the server's business (see docs/deployment.md)."""
        data: dict[str, str | list[str]] = {"query": query}
        if default_graphs:
            data["default-graph-uri"] = default_graphs
        if named_graphs:
            data["named-graph-uri"] = named_graphs
        return self._post(data, accept, timeout_s).content


def _bound(query: str, bindings: Bindings | None) -> str:
    """The query with its bindings as a trailing VALUES row (SPARQL 1.1 allows one after any query form);
    the terms are serialized by pyoxigraph, so no request text is pasted into the query."""
    return query + values_clause(bindings) if bindings else query


def _normalise(term: dict[str, str]) -> dict[str, str]:
    """Servers differ on spelling plain literals and blank nodes; settle on EmbeddedStore's form."""
    out = dict(term)
    if out.get("type") == "typed-literal":
        out["type"] = "literal"
    if out.get("datatype") == "http://www.w3.org/2001/XMLSchema#string":
        del out["datatype"]
    return out
