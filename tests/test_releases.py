"""Recorded time: the KB's releases, kept as canonical snapshots, and the diff between them."""

from __future__ import annotations

import subprocess
import sys

import httpx
from rdflib import BNode, Graph, URIRef
from rdflib.compare import graph_diff, to_isomorphic

from connectkb.common.ids import to_id
from connectkb.knowledge.load import LoadedKB
from connectkb.time.releases import ReleaseStore, changelog, current_graph, snapshot_bytes

from .conftest import REPO


def test_releases_are_listed_with_the_current_one_marked(http: httpx.Client, kb: LoadedKB) -> None:
    body = http.get("/v1/releases").json()
    ids = [r["id"] for r in body["releases"]]
    assert ids[:2] == ["2026.11.0", "2026.11.1"] and body["current"] == kb.release == ids[-1]
    assert [r["current"] for r in body["releases"]] == [False] * (len(ids) - 1) + [True]
    assert body["releases"][0]["triples"] < body["releases"][1]["triples"]


def test_the_current_release_snapshot_is_the_kb_as_it_stands(kb: LoadedKB) -> None:
    """Editing the KB without re-freezing its release (`connectkb release …`) fails here."""
    store = ReleaseStore()
    current = store.releases[kb.release].path.read_bytes()
    assert snapshot_bytes(current_graph()) == current, f"run: connectkb release {kb.release} --note …"


def test_the_release_diff_lists_exactly_the_statements_that_differ(http: httpx.Client) -> None:
    store = ReleaseStore()
    graphs = []
    for release in ("2026.11.0", "2026.11.1"):
        graph = Graph()
        graph.parse(data="\n".join(store.triples(release, "a")), format="nt")
        graphs.append(graph)
    _, only_old, only_new = graph_diff(to_isomorphic(graphs[0]), to_isomorphic(graphs[1]))
    diff = http.get("/v1/releases/2026.11.0/diff/2026.11.1").json()
    assert (diff["added"], diff["removed"]) == (len(only_new), len(only_old))
    listed = sum(len(e["added"]) + len(e["changed"]) for e in diff["entities"])
    assert listed == len(only_new)
    # every new statement about an IRI is listed under its entity, with labels: as added, or as the new
    # value of a statement whose value changed
    reported = {(e["id"], a["property"], a["value"].get("id") or a["value"].get("value"))
                for e in diff["entities"] for a in e["added"]}
    reported |= {(e["id"], c["property"], c["to"].get("id") or c["to"].get("value"))
                 for e in diff["entities"] for c in e["changed"] if isinstance(c["to"], dict)}
    for s, p, o in only_new:
        if isinstance(s, URIRef) and not isinstance(o, BNode):
            assert (to_id(str(s)), to_id(str(p)), to_id(str(o)) if isinstance(o, URIRef) else str(o)) in reported

    plp = next(e for e in diff["entities"] if e["id"] == "role-assignment/hsbc-primary-liquidity-provider-2024")
    assert plp["label"] and any(a["property"] == "ck:effectiveFrom" for a in plp["added"])


def test_a_diff_in_the_other_direction_swaps_added_and_removed(http: httpx.Client) -> None:
    back = http.get("/v1/releases/2026.11.1/diff/2026.11.0").json()
    forth = http.get("/v1/releases/2026.11.0/diff/2026.11.1").json()
    assert (back["added"], back["removed"]) == (forth["removed"], forth["added"])


def test_an_unknown_release_is_404_naming_the_parameter(http: httpx.Client) -> None:
    response = http.get("/v1/releases/2026.11.0/diff/1999.1")
    assert response.status_code == 404
    assert response.json()["errors"][0]["loc"] == ["path", "b"]
    assert "2026.11.1" in response.json()["errors"][0]["msg"]


def test_the_changelog_is_generated_from_the_release_diffs() -> None:
    assert (REPO / "CHANGELOG.md").read_text(encoding="utf-8") == changelog(ReleaseStore()), \
        "CHANGELOG.md is stale: run connectkb changelog > CHANGELOG.md"


def test_the_cli_prints_the_diff_and_the_changes() -> None:
    diff = subprocess.run([sys.executable, "-m", "connectkb", "diff", "2026.11.0", "2026.11.1", "--markdown"],
                          capture_output=True, text=True, timeout=300, check=True).stdout
    assert diff.startswith("## 2026.11.1") and "statements added" in diff
    changes = subprocess.run([sys.executable, "-m", "connectkb", "changes", "--from", "2023-12-31", "--to",
                              "2024-03-31"], capture_output=True, text=True, timeout=300, check=True).stdout
    assert "2024-02-26" in changes and "1 change(s)" in changes
    as_of = subprocess.run([sys.executable, "-m", "connectkb", "as-of", "2024-12-01", "--role",
                            "role-agent-witness-bank"], capture_output=True, text=True, timeout=300, check=True).stdout
    assert as_of.strip().endswith("5 on 2024-12-01")
    bad = subprocess.run([sys.executable, "-m", "connectkb", "changes", "--from", "2025-02-01", "--to", "2025-01-01"],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "'from'" in bad.stderr
