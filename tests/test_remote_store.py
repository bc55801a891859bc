"""The engines on an external SPARQL server: a worker forked by `serve --workers` after the KB was loaded
asks the server on connections of its own, never on one it inherited from its parent."""

from __future__ import annotations

import os

from connectkb.knowledge.stores import RemoteStore

from .conftest import OxigraphServer

HSBC_LABEL = ("SELECT ?l WHERE { <https://w3id.org/connectkb/id/hsbc> "
              "<http://www.w3.org/2000/01/rdf-schema#label> ?l } ORDER BY ?l")


def test_a_forked_worker_asks_the_external_store_on_a_connection_of_its_own(oxigraph_server: OxigraphServer) -> None:
    store = RemoteStore(oxigraph_server.query_url)
    expected = store.select(HSBC_LABEL)  # the parent holds a keep-alive connection now
    assert expected
    inherited = store.client
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: answers correctly, through a client of its own
        code = 1
        try:
            code = 0 if store.client is not inherited and store.select(HSBC_LABEL) == expected else 1
        finally:
            os.write(write, bytes([code]))
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    assert os.read(read, 1) == b"\x00"
    os.close(read)
    assert store.client is inherited and store.select(HSBC_LABEL) == expected
