"""The whole-graph integrity constraints run on Oxigraph for speed; pySHACL, the reference engine,
must find exactly the same violations."""

from __future__ import annotations

from connectkb.common import paths
from connectkb.knowledge.integrity import load_shapes, validate_graph
from connectkb.knowledge.loader import ParsedKB, parse_files

BROKEN = """
@prefix ck:   <https://w3id.org/connectkb/ontology/> .
@prefix kb:   <https://w3id.org/connectkb/id/> .
@prefix cite: <https://w3id.org/connectkb/id/citation/> .
@prefix src:  <https://w3id.org/connectkb/id/source/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd:  <http://www.w3.org/2001/XMLSchema#> .
kb:unlabelled-measure a ck:PolicyMeasure ; ck:effectiveFrom "2025-01-01"^^xsd:date ; ck:notStated ck:effectiveFrom .
kb:half-labelled a ck:Facility ; rdfs:label "only English"@en ; ck:citation cite:no-quote , cite:not-a-citation .
cite:no-quote a ck:Citation ; ck:source src:seed-000 ; ck:locator "somewhere" .
kb:with-blank ck:summary [ rdfs:label "a blank node"@en ] ; rdfs:label "x"@en , "x"@zh-Hans .
ck:UndefinedTerm a <http://www.w3.org/2002/07/owl#Class> ; rdfs:label "no definition"@en , "无定义"@zh-Hans .
"""


def _graphs(tmp_path):  # type: ignore[no-untyped-def]
    broken = tmp_path / "broken.ttl"
    broken.write_text(BROKEN, encoding="utf-8")
    root = paths.data_root()
    parsed = parse_files([root / "ontology" / "core.ttl", root / "ontology" / "measures.ttl",
                          root / "kb" / "registry" / "sources.ttl", root / "kb" / "concepts" / "shared-schemes.ttl",
                          broken])
    return ParsedKB(parsed.triples, parsed.files)


def test_the_fast_path_and_pyshacl_find_the_same_violations(tmp_path) -> None:  # type: ignore[no-untyped-def]
    parsed = _graphs(tmp_path)
    shapes = load_shapes(paths.shapes_files())
    fast = validate_graph(parsed.to_rdflib(), shapes, parsed.to_oxigraph())
    reference = validate_graph(parsed.to_rdflib(), shapes)  # every shape through pySHACL
    assert not fast.conforms and not reference.conforms

    def key(v):  # type: ignore[no-untyped-def]
        return (v.value or v.focus, v.message)

    assert sorted(map(key, fast.violations)) == sorted(map(key, reference.violations))
    messages = " ".join(v.message for v in fast.violations)
    for expected in ("kb:unlabelled-measure has no rdfs:label in English", "states a value for a property and also",
                     "kb:half-labelled has no rdfs:label in Chinese", "without a quote", "not a ck:Citation",
                     "is a blank node", "ck:UndefinedTerm has no English skos:definition"):
        assert expected in messages, expected
