"""Recorded time: published KB releases kept as canonical snapshots, and diffs between them.

A snapshot is the whole KB (ontology + kb/) as sorted N-Triples with canonical blank-node labels
(rdflib's canonicalisation), gzipped without a timestamp, so the same KB always gives the same
bytes and two releases diff statement by statement. `releases/catalog.ttl` lists the releases.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import itertools
import json
import threading
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.compare import to_canonical_graph
from rdflib.namespace import DCTERMS, RDF, RDFS

from ..common import paths
from ..common.ids import to_id
from ..common.namespaces import CK, KB
from ..knowledge.loader import parse_files

DCAT = Namespace("http://www.w3.org/ns/dcat#")


class UnknownRelease(KeyError):
    def __init__(self, field: str, release: str, known: list[str]):
        super().__init__(release)
        self.field = field
        self.message = f"no release '{release}'; known releases: {', '.join(known)}"


@dataclass(frozen=True)
class Release:
    id: str
    issued: str
    note: str
    path: Path

    def triples(self) -> set[str]:
        with gzip.open(self.path, "rt", encoding="utf-8") as f:
            return {line.rstrip("\n") for line in f if line.strip()}


def releases_dir(root: Path | None = None) -> Path:
    return (root or paths.data_root()) / "releases"


def canonical_ntriples(graph: Graph) -> list[str]:
    """The graph as sorted N-Triples lines with canonical blank-node labels."""
    text = to_canonical_graph(graph).serialize(format="nt")
    return sorted({line for line in text.splitlines() if line.strip()})


def snapshot_bytes(graph: Graph) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz:
        gz.write(("\n".join(canonical_ntriples(graph)) + "\n").encode("utf-8"))
    return buffer.getvalue()


def current_graph(root: Path | None = None, exclude: tuple[str, ...] = ()) -> Graph:
    """The KB as the working tree holds it, optionally without some kb/ folders (e.g. 'beyond')."""
    root = root or paths.data_root()

    def kept(f: Path) -> bool:
        return not f.is_relative_to(root / "kb") or f.relative_to(root / "kb").parts[0] not in exclude

    return parse_files([f for f in paths.turtle_files(root) if kept(f)]).to_rdflib()


class ReleaseStore:
    def __init__(self, root: Path | None = None):
        self.dir = releases_dir(root)
        catalog = Graph()
        if (self.dir / "catalog.ttl").exists():
            catalog.parse(self.dir / "catalog.ttl", format="turtle")
        self.releases: dict[str, Release] = {}
        for node in catalog.subjects(RDF.type, DCAT.Dataset):
            rid = str(catalog.value(node, CK.release))
            self.releases[rid] = Release(id=rid, issued=str(catalog.value(node, DCTERMS.issued)),
                                         note=str(catalog.value(node, RDFS.comment) or ""),
                                         path=self.dir / f"{rid}.nt.gz")
        self._cache: dict[str, set[str]] = {}
        # A diff costs about a second of CPU and never changes (releases are frozen): each (pair,
        # language) is computed once, by one thread while concurrent requests for it wait, and kept.
        # Few releases exist, but the pairs grow quadratically: the cache keeps the most recent.
        self._diffs: OrderedDict[tuple[str, str, str], dict[str, Any]] = OrderedDict()
        self._diff_locks: dict[tuple[str, str, str], threading.Lock] = {}
        self._diffs_lock = threading.Lock()
        self._diff_json: dict[tuple[str, str, str], bytes] = {}
        self.diff_computations = 0

    def ids(self) -> list[str]:
        return sorted(self.releases, key=lambda r: (self.releases[r].issued, r))

    def get(self, release: str, field: str) -> Release:
        if release not in self.releases:
            raise UnknownRelease(field, release, self.ids())
        return self.releases[release]

    def triples(self, release: str, field: str) -> set[str]:
        release_record = self.get(release, field)
        if release not in self._cache:
            self._cache[release] = release_record.triples()
        return self._cache[release]

    def listing(self, current: str | None) -> list[dict[str, Any]]:
        return [{"id": r, "issued": self.releases[r].issued, "note": self.releases[r].note,
                 "triples": len(self.triples(r, "release")), "current": r == current} for r in self.ids()]

    MAX_CACHED_DIFFS = 64

    def diff(self, a: str, b: str, lang: str = "en") -> dict[str, Any]:
        """The diff of releases a and b, computed once per (a, b, lang). Callers must not mutate it."""
        self.get(a, "a")
        self.get(b, "b")
        key = (a, b, lang)
        with self._diffs_lock:
            cached = self._diffs.get(key)
            if cached is not None:
                self._diffs.move_to_end(key)
                return cached
            lock = self._diff_locks.setdefault(key, threading.Lock())
        with lock:
            with self._diffs_lock:
                cached = self._diffs.get(key)
            if cached is not None:
                return cached
            result = self._compute_diff(a, b, lang)
            with self._diffs_lock:
                self._diffs[key] = result
                while len(self._diffs) > self.MAX_CACHED_DIFFS:
                    self._diffs.popitem(last=False)
                self._diff_locks.pop(key, None)
            return result

    def diff_json(self, a: str, b: str, lang: str = "en") -> bytes:
        """The diff as JSON bytes, encoded once: encoding the larger diffs costs more than a cache look-up."""
        key = (a, b, lang)
        diff = self.diff(a, b, lang)
        encoded = self._diff_json.get(key)
        if encoded is None:
            encoded = json.dumps(diff, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            with self._diffs_lock:
                self._diff_json[key] = encoded
                for stale in set(self._diff_json) - set(self._diffs):  # follow the diff cache's evictions
                    del self._diff_json[stale]
        return encoded

    def _compute_diff(self, a: str, b: str, lang: str) -> dict[str, Any]:
        self.diff_computations += 1
        old, new = self.triples(a, "a"), self.triples(b, "b")
        removed, added = old - new, new - old
        return {"from": a, "to": b, "added": len(added), "removed": len(removed),
                "entities": group_by_entity(removed, added, old, new, lang)}


class _KeepLabels(dict):  # type: ignore[type-arg]
    """A blank-node context for rdflib's N-Triples parser that keeps the snapshots' canonical labels
    (instead of fresh random ones): a blank node of the added statements is then the same node in the new
    snapshot, so it finds the IRI that holds it, and a diff reads the same on every run."""

    def get(self, key: str, default: object = None) -> str:
        return key


def _graph(lines: set[str]) -> Graph:
    graph = Graph()
    graph.parse(data="\n".join(lines), format="nt", bnode_context=_KeepLabels())
    return graph


def group_by_entity(removed: set[str], added: set[str], old: set[str], new: set[str],
                    lang: str) -> list[dict[str, Any]]:
    """Removed and added statements grouped by the entity they describe, with labels; a property whose
    value was replaced is reported as changed. Statements about blank nodes (the inside of SHACL shapes)
    are grouped under the IRI that holds them."""
    g_removed, g_added = _graph(removed), _graph(added)
    g_old, g_new = _graph(old), _graph(new)

    def owner(node: Any, graph: Graph) -> Any:
        seen = set()
        while isinstance(node, BNode) and node not in seen:
            seen.add(node)
            parent = next(graph.subjects(None, node), None)
            if parent is None:
                break
            node = parent
        return node

    def label(node: Any) -> str | None:
        for graph in (g_new, g_old):
            for value in graph.objects(node, RDFS.label):
                if isinstance(value, Literal) and (value.language or "en").startswith(lang):
                    return str(value)
        return None

    def show(term: Any) -> Any:
        if isinstance(term, URIRef):
            return {"id": to_id(str(term)), "label": label(term)}
        if isinstance(term, BNode):
            return {"blank_node": str(term)}
        return {"value": str(term), **({"lang": term.language} if term.language else {}),
                **({"datatype": to_id(str(term.datatype))} if term.datatype else {})}

    groups: dict[Any, dict[str, list[tuple[Any, Any, Any]]]] = defaultdict(lambda: {"removed": [], "added": []})
    for side, graph, context in (("removed", g_removed, g_old), ("added", g_added, g_new)):
        for s, p, o in graph:
            groups[owner(s, context)][side].append((s, p, o))
    out = []
    for entity in sorted(groups, key=str):
        g = groups[entity]
        removed_by_key = defaultdict(list)
        for s, p, o in g["removed"]:
            removed_by_key[(s, p)].append(o)
        added_by_key = defaultdict(list)
        for s, p, o in g["added"]:
            added_by_key[(s, p)].append(o)
        changed_keys = {k for k in removed_by_key if k in added_by_key
                        and len(removed_by_key[k]) == 1 and len(added_by_key[k]) == 1}
        item: dict[str, Any] = {
            "id": to_id(str(entity)) if isinstance(entity, URIRef) else str(entity), "label": label(entity),
            "changed": [{"subject": show(s), "property": to_id(str(p)), "from": show(removed_by_key[(s, p)][0]),
                         "to": show(added_by_key[(s, p)][0])} for (s, p) in sorted(changed_keys, key=str)],
            "removed": [{"subject": show(s), "property": to_id(str(p)), "value": show(o)}
                        for s, p, o in sorted(g["removed"], key=str) if (s, p) not in changed_keys],
            "added": [{"subject": show(s), "property": to_id(str(p)), "value": show(o)}
                      for s, p, o in sorted(g["added"], key=str) if (s, p) not in changed_keys],
        }
        out.append(item)
    return out


def markdown(diff: dict[str, Any], issued: str) -> str:
    """A CHANGELOG section from a release diff."""
    lines = [f"## {diff['to']} ({issued})", "",
             f"Compared with {diff['from']}: {diff['added']} statements added, {diff['removed']} removed, "
             f"about {len(diff['entities'])} entities.", ""]
    for entity in diff["entities"]:
        parts = []
        if entity["changed"]:
            parts.append(f"{len(entity['changed'])} changed")
        if entity["added"]:
            parts.append(f"{len(entity['added'])} added")
        if entity["removed"]:
            parts.append(f"{len(entity['removed'])} removed")
        name = f"{entity['label']} (`{entity['id']}`)" if entity["label"] else f"`{entity['id']}`"
        lines.append(f"- {name}: {', '.join(parts)}")
    return "\n".join(lines) + "\n"


def changelog(store: ReleaseStore) -> str:
    ids = store.ids()
    sections = ["# Changelog of the connectkb knowledge base", "",
                "Generated by `connectkb changelog` from the release snapshots in `releases/`; do not edit.", ""]
    for a, b in reversed(list(itertools.pairwise(ids))):
        sections.append(markdown(store.diff(a, b), store.releases[b].issued))
    if ids:
        first = store.releases[ids[0]]
        sections.append(f"## {first.id} ({first.issued})\n\nFirst release: {first.note}\n")
    return "\n".join(sections)


def write_snapshot(release: str, note: str, root: Path | None = None, exclude: tuple[str, ...] = (),
                   issued: dt.date | None = None) -> Path:
    """Freeze the working KB as release `release` and list it in the catalog."""
    directory = releases_dir(root)
    directory.mkdir(exist_ok=True)
    path = directory / f"{release}.nt.gz"
    path.write_bytes(snapshot_bytes(current_graph(root, exclude)))
    catalog_path = directory / "catalog.ttl"
    catalog = Graph()
    if catalog_path.exists():
        catalog.parse(catalog_path, format="turtle")
    node = URIRef(f"{KB}release/{release}")
    for triple in list(catalog.triples((node, None, None))):
        catalog.remove(triple)
    catalog.add((node, RDF.type, DCAT.Dataset))
    catalog.add((node, CK.release, Literal(release)))
    catalog.add((node, DCTERMS.issued, Literal((issued or dt.date.today()).isoformat(),
                                               datatype=URIRef("http://www.w3.org/2001/XMLSchema#date"))))
    catalog.add((node, RDFS.comment, Literal(note, lang="en")))
    catalog.bind("ck", CK)
    catalog.bind("dcat", DCAT)
    catalog.bind("dcterms", DCTERMS)
    catalog_path.write_text(catalog.serialize(format="turtle"), encoding="utf-8")
    return path
