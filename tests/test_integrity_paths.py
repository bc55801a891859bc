"""The whole-graph integrity constraints run on Oxigraph for speed; pySHACL, the reference engine,
must find exactly the same violations."""

from __future__ import annotations

from connectkb.common import paths
from connectkb.knowledge.integrity import load_shapes, validate_graph, validate_store
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
    fast = validate_store(parsed.to_oxigraph(), shapes)
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


BROKEN_CORE = """
@prefix ck:   <https://w3id.org/connectkb/ontology/> .
@prefix kb:   <https://w3id.org/connectkb/id/> .
@prefix org:  <http://www.w3.org/ns/org#> .
@prefix cite: <https://w3id.org/connectkb/id/citation/> .
@prefix src:  <https://w3id.org/connectkb/id/source/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd:  <http://www.w3.org/2001/XMLSchema#> .
cite:two-sources a ck:Citation ; ck:source src:seed-000 , src:seed-003 ; ck:locator 3 ; ck:quote "x"@zh-Hans .
cite:not-a-source a ck:Citation ; ck:source kb:nothing ; ck:locator "p. 1" ; ck:quote "x"@zh-Hans .
kb:dated ck:announcedOn "2025-13-01" ; ck:effectiveFrom "2025-01-01"^^xsd:date , "2025-02-01"^^xsd:date ;
    ck:asOfPeriod "2025-01-01"^^xsd:date ; rdfs:label "dated"@en , "日期"@zh-Hans .
kb:amount-without-currency a ck:MonetaryAmount ; ck:amount "many" .
kb:statistic-without-anything a ck:Statistic ; ck:value 1 , 2 ; ck:isEstimate "no" .
kb:assignment-without-start a ck:RoleAssignment ; org:member kb:a , kb:b ; org:role kb:not-a-role .
kb:correction-undated a ck:Correction ; ck:corrects kb:dated ; ck:summary "only one"@en .
"""


def test_the_compiled_engine_and_pyshacl_agree_on_every_core_constraint(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Datatypes, cardinalities, classes, sh:or / sh:and / sh:hasValue: pyshacl-turbo (the fast path) must report
    what pySHACL reports, focus node, path and message alike."""
    broken = tmp_path / "core.ttl"
    broken.write_text(BROKEN_CORE, encoding="utf-8")
    root = paths.data_root()
    parsed = parse_files([root / "ontology" / "core.ttl", root / "ontology" / "measures.ttl",
                          root / "kb" / "registry" / "sources.ttl", root / "kb" / "concepts" / "shared-schemes.ttl",
                          broken])
    shapes = load_shapes(paths.shapes_files())
    fast = validate_store(parsed.to_oxigraph(), shapes)
    reference = validate_graph(parsed.to_rdflib(), shapes)

    def key(v):  # type: ignore[no-untyped-def]
        return (v.focus, v.path or "", v.value or "", v.message, v.severity)

    assert sorted(map(key, fast.violations)) == sorted(map(key, reference.violations))
    focuses = {v.focus for v in fast.violations}
    assert {"cite:two-sources", "cite:not-a-source", "kb:dated", "kb:amount-without-currency",
            "kb:statistic-without-anything", "kb:assignment-without-start", "kb:correction-undated"} <= focuses
