"""A new rule is Turtle only: an extra rule file in the KB is served and evaluated with no Python change."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx

from connectkb.app import create_app
from connectkb.common import paths
from connectkb.knowledge.load import load

from .conftest import LiveServer, free_port

# Payment Connect (FPS x IBPS), from the HKMA's own page as kept in kb/beyond/payment-connect.ttl:
# Northbound payers need a Hong Kong Identity Card and may pay at most HKD 10,000 a day.
PAYMENT_CONNECT_RULE = """
@prefix ck:    <https://w3id.org/connectkb/ontology/> .
@prefix kb:    <https://w3id.org/connectkb/id/> .
@prefix fact:  <https://w3id.org/connectkb/id/fact/> .
@prefix vk:    <https://w3id.org/connectkb/id/value-kind/> .
@prefix cite:  <https://w3id.org/connectkb/id/citation/> .
@prefix rule:  <https://w3id.org/connectkb/id/rule/> .
@prefix crit:  <https://w3id.org/connectkb/id/criterion/> .
@prefix check: <https://w3id.org/connectkb/id/check/> .
@prefix sh:    <http://www.w3.org/ns/shacl#> .
@prefix rdfs:  <http://www.w3.org/2000/01/rdf-schema#> .
@prefix cccev: <http://data.europa.eu/m8g/> .

fact:holds_hk_identity_card a ck:InputFact ; ck:code "holds_hk_identity_card" ; ck:jsonName "holds_hk_identity_card" ;
    ck:valueKind vk:boolean ; rdfs:label "the payer holds a Hong Kong Identity Card"@en , "付款人持有香港身份证"@zh-Hans .
fact:amount_hkd_today a ck:InputFact ; ck:code "amount_hkd_today" ; ck:jsonName "amount_hkd_today" ;
    ck:valueKind vk:decimal ; rdfs:label "amount paid northbound today, HKD"@en , "当日北向付款金额（港元）"@zh-Hans .

rule:payment-connect-northbound a ck:EligibilityRule ; ck:code "payment-connect-northbound" ;
    rdfs:label "Payment Connect: a northbound payment"@en , "跨境支付通：北向付款"@zh-Hans ;
    ck:appliesTo kb:fps-ibps-link ; ck:factSetClass rule:payment-connect-northbound-FactSet ;
    ck:citation cite:b-payment-connect-rules ;
    ck:hasCriterion crit:pc-identity-card , crit:pc-daily-limit , crit:pc-in-force .
rule:payment-connect-northbound-FactSet a rdfs:Class ; rdfs:subClassOf ck:FactSet ;
    rdfs:label "facts of a northbound payment"@en , "北向付款事实"@zh-Hans .

crit:pc-identity-card a cccev:Criterion , sh:NodeShape ; ck:code "hk-identity-card" ; ck:ordinal 1 ;
    rdfs:label "the payer holds a Hong Kong Identity Card"@en , "付款人持有香港身份证"@zh-Hans ;
    ck:requiresFact fact:holds_hk_identity_card ; ck:citation cite:b-payment-connect-rules ;
    sh:targetClass rule:payment-connect-northbound-FactSet ;
    sh:property [ sh:path fact:holds_hk_identity_card ; sh:hasValue true ;
                  sh:message "northbound payers must hold a Hong Kong Identity Card"@en , "北向付款人须持有香港身份证"@zh-Hans ] .
crit:pc-daily-limit a cccev:Criterion , sh:NodeShape ; ck:code "daily-limit" ; ck:ordinal 2 ;
    rdfs:label "within HKD 10,000 a day"@en , "每日不超过10,000港元"@zh-Hans ;
    ck:requiresFact fact:amount_hkd_today ; ck:citation cite:b-payment-connect-rules ;
    sh:targetClass rule:payment-connect-northbound-FactSet ;
    sh:property [ sh:path fact:amount_hkd_today ; sh:maxInclusive 10000 ;
                  sh:message "over the HKD 10,000 daily limit"@en , "超过每日10,000港元限额"@zh-Hans ] .
crit:pc-in-force a cccev:Criterion , sh:NodeShape ; ck:code "in-force-on-as-of" ; ck:ordinal 3 ;
    rdfs:label "Payment Connect operates on the as-of date"@en , "评估日跨境支付通已运行"@zh-Hans ;
    ck:citation cite:b-payment-connect-launch ;
    sh:targetClass rule:payment-connect-northbound-FactSet ;
    ck:eligibleUnder kb:fps-ibps-link ; sh:sparql check:in-force-on-as-of .
"""


def test_a_rule_added_as_turtle_is_served_and_evaluated(tmp_path: Path, seeds: Path) -> None:
    root = paths.data_root()
    for part in ("ontology", "kb"):
        shutil.copytree(root / part, tmp_path / part)
    (tmp_path / "kb" / "rules" / "payment-connect-northbound.ttl").write_text(PAYMENT_CONNECT_RULE, encoding="utf-8")
    app = create_app(load(tmp_path, seeds))
    with LiveServer(app, free_port()) as live, httpx.Client(base_url=live.base_url, timeout=30) as http:
        assert "payment-connect-northbound" in {r["id"] for r in http.get("/v1/rules").json()["rules"]}
        schema = http.get("/v1/rules/payment-connect-northbound").json()["facts_schema"]
        # the HKD 10,000 limit is a criterion, not an input limit (issue 15): the schema admits HKD 12,000
        assert schema["properties"]["amount_hkd_today"] == {"type": "number",
                                                            "title": "amount paid northbound today, HKD"}

        def ask(facts: dict, as_of: str) -> dict:
            return http.post("/v1/rules/payment-connect-northbound/evaluate",
                             json={"facts": facts, "as_of": as_of}).json()

        ok = ask({"holds_hk_identity_card": True, "amount_hkd_today": 8000}, "2025-07-01")
        assert ok["verdict"] == "eligible", ok
        over = ask({"holds_hk_identity_card": True, "amount_hkd_today": 12000}, "2025-07-01")
        assert over["verdict"] == "ineligible"
        before = ask({"holds_hk_identity_card": True, "amount_hkd_today": 100}, "2025-06-21")
        assert {c["id"]: c["outcome"] for c in before["criteria"]}["in-force-on-as-of"] == "fail"
