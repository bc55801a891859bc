"""The rule catalogue, languages, RDF input and output, bad input."""

from __future__ import annotations

import httpx

ADULT = {"age": 30, "hk_permanent_resident": True, "witness_bank": "boc", "holds_account_with_witness_bank": True,
         "documents": ["hk-permanent-identity-card", "mainland-travel-permit"], "account_class": "II"}


def test_the_catalogue_lists_every_rule_with_what_it_belongs_to(http: httpx.Client) -> None:
    rules = {r["id"]: r for r in http.get("/v1/rules").json()["rules"]}
    assert {"witness-account-opening", "collateral-otcc-margin", "collateral-offshore-rmb-repo",
            "collateral-hkma-rmb-liquidity", "collateral-swap-connect-initial-margin", "collateral-rmb-trade-financing",
            "offshore-rmb-repo-counterparties", "rmb-trade-financing-facility"} <= set(rules)
    assert rules["witness-account-opening"]["applies_to"][0]["id"] == "witness-account-opening"
    assert rules["collateral-otcc-margin"]["citations"]


def test_a_rule_shows_its_criteria_and_a_json_schema_from_the_shapes(http: httpx.Client) -> None:
    rule = http.get("/v1/rules/witness-account-opening").json()
    assert rule["criteria"][0]["id"] == "minimum-age"
    assert all(c["citations"] for c in rule["criteria"])
    schema = rule["facts_schema"]
    assert schema["additionalProperties"] is False
    # the schema says what valid input is (an age is never negative); "18 or older" stays a criterion
    assert schema["properties"]["age"] == {"type": "integer", "minimum": 0, "title": "age of the applicant in whole years"}
    assert set(schema["properties"]["account_class"]["enum"]) == {"I", "II", "III"}
    assert {"hk-permanent-identity-card", "mainland-travel-permit"} <= set(schema["properties"]["documents"]["items"]["enum"])
    otcc = http.get("/v1/rules/collateral-otcc-margin").json()["facts_schema"]["properties"]["bond_type"]["enum"]
    assert {"chinese-government-bond", "policy-bank-bond", "local-government-bond"} <= set(otcc)


def test_answers_in_chinese_when_asked(http: httpx.Client) -> None:
    body = {"facts": {**ADULT, "age": 17}, "as_of": "2025-03-01"}
    zh = http.post("/v1/rules/witness-account-opening/evaluate", json=body, headers={"Accept-Language": "zh"}).json()
    age = next(c for c in zh["criteria"] if c["id"] == "minimum-age")
    assert age["label"] == "申请人年满18周岁" and "18周岁" in age["message"]
    assert http.post("/v1/rules/witness-account-opening/evaluate?lang=zh", json=body).json()["lang"] == "zh"


def test_facts_posted_as_turtle_give_the_same_answer(http: httpx.Client) -> None:
    turtle = """
    @prefix fact: <https://w3id.org/connectkb/id/fact/> .
    @prefix ck: <https://w3id.org/connectkb/ontology/> .
    @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
    <urn:example:applicant> fact:age 17 ; fact:hk_permanent_resident true ;
        fact:witness_bank <https://w3id.org/connectkb/id/boc> ; fact:holds_account_with_witness_bank true ;
        fact:documents <https://w3id.org/connectkb/id/document/hk-permanent-identity-card> ,
                       <https://w3id.org/connectkb/id/document/mainland-travel-permit> ;
        fact:account_class <https://w3id.org/connectkb/id/account-class/II> ;
        ck:asOf "2025-03-01"^^xsd:date .
    """
    answer = http.post("/v1/rules/witness-account-opening/evaluate", content=turtle,
                       headers={"Content-Type": "text/turtle"}).json()
    assert answer["verdict"] == "ineligible" and answer["as_of"] == "2025-03-01"
    assert {c["id"]: c["outcome"] for c in answer["criteria"]}["minimum-age"] == "fail"


def test_facts_posted_as_json_ld_give_the_same_answer(http: httpx.Client) -> None:
    doc = {"@context": {"fact": "https://w3id.org/connectkb/id/fact/", "kb": "https://w3id.org/connectkb/id/"},
           "@id": "urn:example:bond", "fact:bond_type": {"@id": "kb:bond-type/local-government-bond"},
           "fact:held_via": {"@id": "kb:northbound-bond-connect"}}
    answer = http.post("/v1/rules/collateral-otcc-margin/evaluate?as_of=2025-06-01", json=doc,
                       headers={"Content-Type": "application/ld+json"}).json()
    assert answer["verdict"] == "ineligible"


def test_json_ld_with_a_remote_context_is_refused_not_fetched(http: httpx.Client) -> None:
    doc = {"@context": "http://127.0.0.1:9/context.jsonld", "@id": "urn:x", "bond_type": "policy-bank-bond"}
    response = http.post("/v1/rules/collateral-otcc-margin/evaluate", json=doc,
                         headers={"Content-Type": "application/ld+json"})
    assert response.status_code == 422
    assert "remote JSON-LD contexts" in response.json()["errors"][0]["msg"]


def test_accept_turtle_returns_the_shacl_report(http: httpx.Client) -> None:
    response = http.post("/v1/rules/witness-account-opening/evaluate", json={"facts": {**ADULT, "age": 17},
                         "as_of": "2025-03-01"}, headers={"Accept": "text/turtle"})
    assert response.headers["content-type"].startswith("text/turtle")
    assert "sh:ValidationReport" in response.text and "sh:conforms false" in response.text


def test_an_unknown_rule_is_404_naming_the_known_ones(http: httpx.Client) -> None:
    response = http.post("/v1/rules/no-such-rule/evaluate", json={"facts": {}})
    assert response.status_code == 404
    assert "witness-account-opening" in response.json()["detail"]
    assert http.get("/v1/rules/no-such-rule").status_code == 404


def test_malformed_facts_are_422_naming_the_field(http: httpx.Client) -> None:
    cases = [({"age": "seventeen"}, "age", "whole number"), ({"account_class": "IV"}, "account_class", "one of"),
             ({"documents": "passport"}, "documents", "list"), ({"favourite_colour": "red"}, "favourite_colour", "unknown"),
             ({"hk_permanent_resident": "yes"}, "hk_permanent_resident", "true or false")]
    for facts, field, expected in cases:
        response = http.post("/v1/rules/witness-account-opening/evaluate", json={"facts": facts})
        assert response.status_code == 422, (facts, response.text)
        detail = response.json()["errors"][0]
        assert detail["loc"] == ["body", "facts", field] and expected in detail["msg"], detail


def test_a_malformed_request_body_is_422(http: httpx.Client) -> None:
    bad_date = http.post("/v1/rules/witness-account-opening/evaluate", json={"facts": {}, "as_of": "2025-13-01"})
    assert bad_date.status_code == 422 and bad_date.json()["errors"][0]["loc"] == ["body", "as_of"]
    extra = http.post("/v1/rules/witness-account-opening/evaluate", json={"facts": {}, "asof": "2025-01-01"})
    assert extra.status_code == 422 and extra.json()["errors"][0]["loc"] == ["body", "asof"]
    not_json = http.post("/v1/rules/witness-account-opening/evaluate", content=b"{",
                         headers={"Content-Type": "application/json"})
    assert not_json.status_code == 422
    wrong_type = http.post("/v1/rules/witness-account-opening/evaluate", content=b"<x/>",
                           headers={"Content-Type": "application/xml"})
    assert wrong_type.status_code == 415


def test_the_cli_prints_the_same_answer() -> None:
    import json
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "connectkb", "eval", "witness-account-opening", "--facts",
                             json.dumps({**ADULT, "age": 17}), "--as-of", "2025-03-01"],
                            capture_output=True, text=True, timeout=300, check=True)
    answer = json.loads(result.stdout)
    assert answer["verdict"] == "ineligible"
    assert {c["id"]: c["outcome"] for c in answer["criteria"]}["minimum-age"] == "fail"


def test_rdf_xml_with_a_dtd_is_never_parsed(http: httpx.Client) -> None:
    xxe = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description>&x;</rdf:Description>'
           '</rdf:RDF>')
    response = http.post("/v1/rules/witness-account-opening/evaluate", content=xxe,
                         headers={"Content-Type": "application/rdf+xml"})
    assert response.status_code == 415 and "root:" not in response.text
