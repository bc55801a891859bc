"""The compiled engine is the reference engine, faster: identical answers (verdict, every criterion's
outcome and message, missing_facts, next_fact, citations) on every rule question and on generated fact
sets for every rule; and rules it cannot compile are served by the reference."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectkb.common import paths
from connectkb.knowledge.entities import EntityService
from connectkb.knowledge.load import LoadedKB, load
from connectkb.rules.compiled import CompiledRules
from connectkb.rules.engine import FactError, RulesEngine

from .compiled_factgen import FactGenerator
from .test_rule_from_turtle import PAYMENT_CONNECT_RULE

RULES_DIR = Path(__file__).parent / "rules"
# 1,000 generated fact sets per rule, each answered by both engines (the reference's pySHACL run is
# ~20 ms a fact set: ~8 minutes on the 2-core CI machine); CONNECTKB_DIFFERENTIAL_N for more or fewer.
PER_RULE = int(os.environ.get("CONNECTKB_DIFFERENTIAL_N", "1000"))
SEED = 20250113


@pytest.fixture(scope="module")
def engines(kb: LoadedKB) -> tuple[RulesEngine, CompiledRules]:
    entities = EntityService(kb.backend)
    reference = RulesEngine(kb.backend, entities.citations, entities.label_of)
    return reference, CompiledRules(reference)


def _both(reference: RulesEngine, compiled: CompiledRules, rule: str, facts: dict[str, Any], as_of: dt.date,
          lang: str) -> tuple[Any, Any]:
    def run(fn: Any) -> Any:
        try:
            return fn()
        except FactError as exc:
            return ("FactError", exc.field, exc.message)
    return (run(lambda: reference.evaluate(rule, facts, as_of, lang)[0]),
            run(lambda: compiled.evaluate(rule, facts, as_of, lang)))


def _questions() -> list[dict[str, Any]]:
    out = []
    for path in sorted(RULES_DIR.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for q in doc["questions"]:
            out.append({"rule": q.get("rule") or doc.get("rule"), **q})
    return out


NEW_KINDS = {"holds-role-on-as-of-where-settled", "role-holders-not-settled-on-as-of",
             "some-value-holds-role-on-as-of-where-settled", "some-value-holds-role-undetermined",
             "some-value-holds-role-beyond-settled-term", "rating-rests-on-unstated-term",
             "value-excluded-under-one-reading"}


def test_every_rule_of_the_kb_is_compiled(engines: tuple[RulesEngine, CompiledRules]) -> None:
    reference, compiled = engines
    fallbacks = {r: compiled.engine_for(r)[1] for r in reference.rules if compiled.engine_for(r)[0] != "compiled"}
    assert not fallbacks, fallbacks
    assert set(compiled.kinds) >= NEW_KINDS, NEW_KINDS - set(compiled.kinds)


def test_every_rule_question_answers_as_the_reference(engines: tuple[RulesEngine, CompiledRules]) -> None:
    reference, compiled = engines
    mismatches = []
    questions = _questions()
    for q in questions:
        for lang in ("en", "zh"):
            as_of = dt.date.fromisoformat(str(q["as_of"]))
            ref, got = _both(reference, compiled, q["rule"], q["facts"], as_of, lang)
            if ref != got:
                mismatches.append((q["rule"], q["question"], lang, ref, got))
    assert not mismatches, f"{len(mismatches)} of {2 * len(questions)} differ; first: {mismatches[0]}"


def test_generated_fact_sets_answer_as_the_reference(engines: tuple[RulesEngine, CompiledRules]) -> None:
    """PER_RULE generated fact sets per compiled rule (seeded), in English and, for one in five, Chinese."""
    reference, compiled = engines
    mismatches: list[tuple[Any, ...]] = []
    checked = 0
    for n, rule_id in enumerate(sorted(compiled.compiled)):
        gen = FactGenerator(reference.rules[rule_id], SEED + n)
        for i in range(PER_RULE):
            facts, as_of = gen.fact_set()
            lang = "zh" if i % 5 == 4 else "en"
            ref, got = _both(reference, compiled, rule_id, facts, as_of, lang)
            checked += 1
            if ref != got:
                mismatches.append((rule_id, facts, as_of.isoformat(), lang, ref, got))
    detail = ""
    if mismatches:
        rule_id, facts, as_of, lang, ref, got = mismatches[0]
        diff = [(a, b) for a, b in zip(ref.get("criteria", []), got.get("criteria", []), strict=False) if a != b] \
            if isinstance(ref, dict) and isinstance(got, dict) else (ref, got)
        detail = f"; first: rule {rule_id} as_of {as_of} lang {lang} facts {facts}: {diff or (ref, got)}"
    assert not mismatches, f"{len(mismatches)} of {checked} generated fact sets differ{detail}"


def test_bulk_outcomes_match_single_evaluation(engines: tuple[RulesEngine, CompiledRules]) -> None:
    reference, compiled = engines
    rules = sorted(r for r in reference.rules if r.startswith("index-"))
    gen = FactGenerator(reference.rules[rules[0]], SEED)
    fact_sets = []
    for name in rules:
        g = FactGenerator(reference.rules[name], SEED + len(fact_sets))
        fact_sets += [g.fact_set()[0] for _ in range(40)]
    as_of = dt.date(2012, 8, 1)
    result = compiled.evaluate_many(rules, fact_sets, as_of)
    assert len(result) == len(fact_sets) * len(rules)
    for i in range(0, len(result), 7):
        rule_id, fs = result.columns["rule"][i], fact_sets[result.columns["fact_set"][i]]
        try:
            answer = compiled.evaluate(rule_id, fs, as_of)
        except FactError:
            assert result.columns["verdict"][i] is None or result.columns["error"][i] is not None or \
                result.columns["engine"][i] == "compiled"
            continue
        assert result.columns["verdict"][i] == answer["verdict"], (rule_id, fs)
        for c in answer["criteria"]:
            assert result.columns[c["id"]][i] == c["outcome"], (rule_id, c, fs)
        assert result.answer(i) == answer
    del gen


def test_bulk_from_json_lines_matches_single_evaluation(engines: tuple[RulesEngine, CompiledRules],
                                                       tmp_path: Path) -> None:
    """The file path: chunked parse, malformed lines and values answered one at a time (as `evaluate`),
    every other row decided by the columns; each row equal to the single evaluation of its fact set."""
    import json
    reference, compiled = engines
    rules = sorted(r for r in reference.rules if r.startswith("index-"))
    fact_sets: list[Any] = []
    for n, name in enumerate(rules):
        g = FactGenerator(reference.rules[name], SEED + 100 + n)
        fact_sets += [g.fact_set()[0] for _ in range(60)]
    lines = [json.dumps(f) for f in fact_sets]
    lines[3:3] = ["", "not json", "[1, 2]", '{"bogus": 1}', '{"outstanding_cny": 1e400}',
                  '{"residual_maturity_years": 3.0, "outstanding_cny": 1000000000}']
    path = tmp_path / "bonds.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    as_of = dt.date(2012, 8, 1)
    result = compiled.evaluate_jsonl(rules, path, as_of, chunk=97)
    table = result.to_polars()
    parsed = [line for line in lines if line.strip()]
    assert table.height == len(parsed) * len(rules)
    for i, row in enumerate(table.iter_rows(named=True)):
        try:
            facts = json.loads(parsed[row["fact_set"]])
            answer = compiled.evaluate(row["rule"], facts, as_of)
        except (ValueError, FactError, AttributeError, TypeError):
            assert row["error"] is not None and row["verdict"] is None, row
            continue
        assert row["error"] is None and row["verdict"] == answer["verdict"], (row, answer)
        for c in answer["criteria"]:
            assert row[c["id"]] == c["outcome"], (row, c)
        if i % 37 == 0:
            assert result.answer(i) == answer


def test_bulk_screening_reads_typed_names_and_derived_facts_as_evaluate_does(
        engines: tuple[RulesEngine, CompiledRules]) -> None:
    """A bank typed by name and a bond whose type the KB derives: the columns do not see the preparation,
    so those rows must still answer as a single evaluation does."""
    _, compiled = engines
    adult = {"age": 30, "hk_permanent_resident": True, "holds_account_with_witness_bank": True,
             "documents": ["hk-permanent-identity-card", "mainland-travel-permit"], "account_class": "II"}
    bond = {"residual_maturity_years": 2.5, "outstanding_cny": 2_000_000_000, "coupon_type": "fixed",
            "denomination_currency": "CNY", "settlement_currency": "CNY", "issued_in": "hong-kong",
            "quote_days_last_20": 12, "min_daily_dealers": 6}
    fact_sets = [{**adult, "witness_bank": name} for name in ("boc", "Bank of China", "中国银行", "hbsc", "bochk")] + \
        [{**bond, "issuer_type": "central-government"}, {**bond, "issuer_type": "policy-bank"},
         {**bond, "issuer_type": "central-government", "bond_type": "corporate-bond"}]
    rules = ["witness-account-opening", "index-fubon-guanghua-gov-dim-sum"]
    as_of = dt.date(2025, 3, 1)
    result = compiled.evaluate_many(rules, fact_sets, as_of)
    verdicts = {}
    for i in range(len(result)):
        rule_id, n = result.columns["rule"][i], result.columns["fact_set"][i]
        answer = compiled.evaluate(rule_id, fact_sets[n], as_of)
        assert result.columns["verdict"][i] == answer["verdict"], (rule_id, fact_sets[n])
        verdicts[(rule_id, n)] = answer["verdict"]
    witness = [verdicts[("witness-account-opening", n)] for n in range(5)]
    assert witness == ["eligible", "eligible", "eligible", "ineligible", "ineligible"]
    assert [verdicts[("index-fubon-guanghua-gov-dim-sum", n)] for n in (5, 6, 7)] == \
        ["eligible", "ineligible", "ineligible"]


CUSTOM_SPARQL_RULE = """
@prefix ck:    <https://w3id.org/connectkb/ontology/> .
@prefix kb:    <https://w3id.org/connectkb/id/> .
@prefix fact:  <https://w3id.org/connectkb/id/fact/> .
@prefix cite:  <https://w3id.org/connectkb/id/citation/> .
@prefix rule:  <https://w3id.org/connectkb/id/rule/> .
@prefix crit:  <https://w3id.org/connectkb/id/criterion/> .
@prefix sh:    <http://www.w3.org/ns/shacl#> .
@prefix rdfs:  <http://www.w3.org/2000/01/rdf-schema#> .
@prefix cccev: <http://data.europa.eu/m8g/> .

rule:payment-connect-custom a ck:EligibilityRule ; ck:code "payment-connect-custom" ;
    rdfs:label "Payment Connect: a custom SPARQL limit"@en , "跨境支付通：自定义限额"@zh-Hans ;
    ck:appliesTo kb:fps-ibps-link ; ck:factSetClass rule:payment-connect-custom-FactSet ;
    ck:citation cite:b-payment-connect-rules ; ck:hasCriterion crit:pcc-limit .
rule:payment-connect-custom-FactSet a rdfs:Class ; rdfs:subClassOf ck:FactSet ;
    rdfs:label "facts of a northbound payment (custom)"@en , "北向付款事实（自定义）"@zh-Hans .
crit:pcc-limit a cccev:Criterion , sh:NodeShape ; ck:code "custom-limit" ; ck:ordinal 1 ;
    rdfs:label "within HKD 5,000"@en , "不超过5,000港元"@zh-Hans ;
    ck:requiresFact fact:amount_hkd_today ; ck:citation cite:b-payment-connect-rules ;
    sh:targetClass rule:payment-connect-custom-FactSet ;
    sh:sparql [ a sh:SPARQLConstraint ; sh:prefixes kb:rules-prefixes ;
        sh:message "over HKD 5,000"@en , "超过5,000港元"@zh-Hans ;
        sh:select "SELECT $this WHERE { $this fact:amount_hkd_today ?a . FILTER(?a > 5000) }" ] .
"""


def test_a_turtle_only_rule_is_compiled_or_served_by_the_reference(tmp_path: Path, seeds: Path) -> None:
    root = paths.data_root()
    for part in ("ontology", "kb"):
        shutil.copytree(root / part, tmp_path / part)
    rules = tmp_path / "kb" / "rules"
    (rules / "payment-connect-northbound.ttl").write_text(PAYMENT_CONNECT_RULE, encoding="utf-8")
    (rules / "payment-connect-custom.ttl").write_text(CUSTOM_SPARQL_RULE, encoding="utf-8")
    kb = load(tmp_path, seeds)
    entities = EntityService(kb.backend)
    reference = RulesEngine(kb.backend, entities.citations, entities.label_of)
    compiled = CompiledRules(reference)
    assert compiled.engine_for("payment-connect-northbound")[0] == "compiled"
    engine, why = compiled.engine_for("payment-connect-custom")
    assert engine == "reference" and "custom sh:sparql" in why
    for rule_id in ("payment-connect-northbound", "payment-connect-custom"):
        for facts, as_of in (({"holds_hk_identity_card": True, "amount_hkd_today": 8000}, "2025-07-01"),
                             ({"holds_hk_identity_card": True, "amount_hkd_today": 10000}, "2025-07-01"),
                             ({"holds_hk_identity_card": False, "amount_hkd_today": 12000}, "2025-07-01"),
                             ({"amount_hkd_today": 100}, "2025-06-21"), ({}, "2025-06-22")):
            ref, got = _both(reference, compiled, rule_id, facts, dt.date.fromisoformat(as_of), "en")
            assert ref == got, (rule_id, facts, ref, got)
    assert compiled.evaluate("payment-connect-custom", {"amount_hkd_today": 6000},
                             dt.date(2025, 7, 1))["verdict"] == "ineligible"
