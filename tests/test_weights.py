"""Index weights (issue 12, item 3): hand-computed market-value, capped and bucketed weights, the readings of
seed 003's open passages named in the answer, and bad input refused with the field named."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
from collections.abc import Iterator
from fractions import Fraction as F
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fastapi.testclient import TestClient

from connectkb import cli
from connectkb.app import create_app
from connectkb.knowledge.entities import EntityService
from connectkb.knowledge.load import LoadedKB, load
from connectkb.rules.compiled.engine import CompiledRules
from connectkb.rules.engine import RulesEngine
from connectkb.weights import weighting
from connectkb.weights.cli import render_text
from connectkb.weights.routes import MAX_BONDS_ENV
from connectkb.weights.service import Bond, BondsError, UnknownIndex, WeightsService

AS_OF = dt.date(2025, 3, 1)
BN = 1_000_000_000
# a bond every index rule of seed 003 admits: 3 years left, RMB 10 bn outstanding, fixed coupon, RMB
# denominated and settled, rated A1, no excluded feature
ELIGIBLE = {"residual_maturity_years": 3, "outstanding_cny": 10 * BN, "coupon_type": "fixed",
            "denomination_currency": "CNY", "settlement_currency": "CNY", "features": [],
            "issue_rating": {"agency": "moodys", "grade": "A1"}, "issuer_domicile": "mainland",
            "issuer_type": "central-government"}


def service_for(kb: LoadedKB) -> WeightsService:
    entities = EntityService(kb.backend)
    rules = RulesEngine(kb.backend, entities.citations, entities.label_of)
    return WeightsService(rules, CompiledRules(rules))


@pytest.fixture(scope="module")
def weights(kb: LoadedKB) -> WeightsService:
    return service_for(kb)


def bond(bond_id: str, **facts: Any) -> Bond:
    return Bond(bond_id, {**ELIGIBLE, **facts})


def by_id(answer: dict[str, Any]) -> dict[str, float]:
    return {c["id"]: c["weight"] for c in answer["constituents"]}


def applied(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["reading"]: r for r in answer["readings"] if r["applied"]}


# ---------------------------------------------------------------- the algorithms alone, exactly
def test_market_value_weights_are_each_bonds_share_of_the_total() -> None:
    """Market values 50, 30, 20 (total 100) → 50/100, 30/100, 20/100."""
    assert weighting.proportional({"a": F(50), "b": F(30), "c": F(20)}, F(1)) == \
        {"a": F(1, 2), "b": F(3, 10), "c": F(1, 5)}


def test_a_capped_weight_passes_its_excess_on_until_none_is_above_the_cap() -> None:
    """Weights .40 .20 .15 .10 .10 .05 under a .225 cap. Round 1: a → .225, its excess .175 goes to the
    others pro rata (their total .60): b = .20 + .175 × .20/.60 = .258333… > .225. Round 2: b → .225 too;
    the other four share 1 − 2 × .225 = .55 in proportion to their first weights (total .40), × 1.375:
    c = .20625 (33/160), d = e = .1375 (11/80), f = .06875 (11/160). Sum: .45 + .20625 + .275 + .06875 = 1."""
    start = {"a": F(40, 100), "b": F(20, 100), "c": F(15, 100), "d": F(10, 100), "e": F(10, 100), "f": F(5, 100)}
    got = weighting.cap(start, F(225, 1000), repeat=True)
    assert got.weights == {"a": F(9, 40), "b": F(9, 40), "c": F(33, 160), "d": F(11, 80), "e": F(11, 80),
                           "f": F(11, 160)}
    assert got.capped == ["a", "b"] and got.unassigned == 0 and sum(got.weights.values()) == 1
    once = weighting.cap(start, F(225, 1000), repeat=False)
    assert once.weights["b"] == F(31, 120)  # .20 + .175 × 1/3: a single pass leaves b above the cap


def test_four_bonds_cannot_meet_a_22_5_percent_cap() -> None:
    """4 × .225 = .90: every bond at the cap and .10 left unassigned."""
    got = weighting.cap({"a": F(1, 2), "b": F(1, 4), "c": F(1, 8), "d": F(1, 8)}, F(9, 40), repeat=True)
    assert set(got.weights.values()) == {F(9, 40)} and got.unassigned == F(1, 10)


def test_the_five_largest_are_chosen_and_duration_breaks_a_tie_at_the_cut() -> None:
    """Principals 10 9 8 7 6 6 5: the fifth place goes to one of the two 6s, the one with the longer
    duration (4 years against 2); the duration of the others is never read."""
    bonds = {"p10": [F(10), None], "p9": [F(9), None], "p8": [F(8), None], "p7": [F(7), None],
             "p6-long": [F(6), F(4)], "p6-short": [F(6), F(2)], "p5": [F(5), None]}
    got = weighting.top(bonds, 5, [True, True])
    assert sorted(got.chosen) == ["p10", "p6-long", "p7", "p8", "p9"] and sorted(got.left_out) == ["p5", "p6-short"]
    assert not got.missing and not got.tied


def test_bonds_equal_on_principal_and_duration_at_the_cut_are_undecided() -> None:
    bonds = {"a": [F(9), F(1)], "b": [F(8), F(3)], "c": [F(8), F(3)]}
    got = weighting.top(bonds, 2, [True, True])
    assert got.tied == ["b", "c"] and got.chosen == ["a"]


def test_a_missing_duration_that_decides_the_cut_is_reported() -> None:
    got = weighting.top({"a": [F(9), None], "b": [F(8), F(3)], "c": [F(8), None]}, 2, [True, True])
    assert got.missing == {"c": 1}


# ---------------------------------------------------------------- market-value indices
def test_citi_weights_eligible_bonds_by_market_value_and_leaves_out_the_ineligible(weights: WeightsService) -> None:
    """Market values 300, 100, 100 (total 500) → .6, .2, .2; the floating-rate bond is not eligible
    (Citi admits fixed-rate bonds only) and gets no weight."""
    answer = weights.weigh("index-citi-dim-sum", [
        bond("a", market_value_cny=300), bond("b", market_value_cny=100), bond("c", market_value_cny=100),
        bond("floater", coupon_type="floating", market_value_cny=900)], AS_OF)
    assert answer["status"] == "weighted" and answer["sums_to_one"]
    assert by_id(answer) == {"a": 0.6, "b": 0.2, "c": 0.2}
    assert answer["eligibility"]["ineligible_bonds"] == [{"id": "floater", "failed": ["coupon-type"]}]
    assert answer["method"]["id"] == "market-value"


def test_market_vectors_caps_each_constituent_at_22_5_percent(weights: WeightsService) -> None:
    """The capped example above through the Market Vectors rule: market values 40 20 15 10 10 5 → .225 .225
    .20625 .1375 .1375 .06875; the answer names the reading that the redistribution repeats, quoting table 9."""
    values = {"a": 40, "b": 20, "c": 15, "d": 10, "e": 10, "f": 5}
    answer = weights.weigh("index-market-vectors-rmb", [bond(k, market_value_cny=v) for k, v in values.items()], AS_OF)
    assert answer["status"] == "weighted" and answer["total_weight"] == 1
    assert by_id(answer) == {"a": 0.225, "b": 0.225, "c": 0.20625, "d": 0.1375, "e": 0.1375, "f": 0.06875}
    assert [c["id"] for c in answer["constituents"] if c["capped"]] == ["a", "b"]
    reading = applied(answer)["cap-excess-repeated"]
    assert reading["ambiguity"] and "超过部分按比例分配至其他成分券" in reading["citations"][0]["quote"]


def test_market_vectors_with_four_bonds_says_why_the_weights_do_not_sum_to_one(weights: WeightsService) -> None:
    answer = weights.weigh("index-market-vectors-rmb", [bond(k, market_value_cny=v) for k, v in
                                                       {"a": 50, "b": 30, "c": 10, "d": 10}.items()], AS_OF)
    assert answer["status"] == "incomplete" and not answer["sums_to_one"]
    assert answer["total_weight"] == pytest.approx(0.9)
    assert [r["reason"] for r in answer["why_not"]] == ["cap-shortfall"]
    assert "cap-shortfall-unassigned" in applied(answer)


def test_a_bond_without_its_market_value_leaves_the_weights_undetermined(weights: WeightsService) -> None:
    answer = weights.weigh("index-hsbc-offshore-rmb", [bond("a", market_value_cny=1), bond("b")], AS_OF)
    assert answer["status"] == "undetermined"
    assert answer["why_not"][0]["reason"] == "missing-fact" and answer["why_not"][0]["bonds"] == ["b"]
    assert answer["why_not"][0]["fact"] == "market_value_cny"


def test_no_eligible_bond_is_said_so(weights: WeightsService) -> None:
    answer = weights.weigh("index-market-vectors-rmb", [bond("x", coupon_type="floating", market_value_cny=5)], AS_OF)
    assert answer["status"] == "incomplete" and answer["total_weight"] == 0
    assert answer["why_not"][0]["reason"] == "no-eligible-bond"


def test_a_bond_of_undetermined_eligibility_is_named_with_the_fact_to_collect(weights: WeightsService) -> None:
    facts = {k: v for k, v in ELIGIBLE.items() if k != "issue_rating"}
    answer = weights.weigh("index-market-vectors-rmb", [bond(k, market_value_cny=1) for k in "abcde"]
                           + [Bond("unrated", {**facts, "market_value_cny": 1})], AS_OF)
    assert answer["status"] == "undetermined"
    reason = answer["why_not"][0]
    assert reason["reason"] == "undetermined-eligibility"
    assert reason["bonds"][0]["id"] == "unrated" and "issue_rating" in reason["bonds"][0]["missing_facts"]


# ---------------------------------------------------------------- AlphaShares' four buckets
def alphashares_universe() -> list[Bond]:
    gov = [bond(f"cgb-{p}", outstanding_cny=p * BN) for p in (10, 9, 8, 7, 5)]
    gov += [bond("cgb-6-long", outstanding_cny=6 * BN, duration_years=4),
            bond("cgb-6-short", outstanding_cny=6 * BN, duration_years=2)]
    agency = [bond(f"agency-{i}", issuer_type="chinese-government-agency") for i in (1, 2)]
    banks = [bond("bank-1", issuer_type="domestic-commercial-bank")]
    other = [bond("supra-30", issuer_type="supranational", issuer_domicile="offshore", outstanding_cny=30 * BN)]
    other += [bond(f"corp-{i}", issuer_type="foreign-corporate", issuer_domicile="offshore", outstanding_cny=10 * BN)
              for i in range(8)]
    return gov + agency + banks + other


def test_alphashares_weights_its_four_buckets_by_footnote_2(weights: WeightsService) -> None:
    """Bucket 1 (government): principals 10 9 8 7 6 6 5 bn → the five largest, the 6 with the longer duration
    taking fifth place; 22.5 % / 5 = 4.5 % each. Bucket 2 (agency): two bonds, 22.5 % / 2 = 11.25 % each.
    Bucket 3 (mainland banks, a commercial bank being one): one bond, 22.5 %. Bucket 4 (the rest): principals
    30 and 8 × 10 bn (total 110) → 32.5 % × 30/110 = 8.86 % > 4.5 %, so 4.5 %; the other 28 % is shared by
    the eight equal bonds, 3.5 % each (under the cap). Sum: 3 × 22.5 % + 4.5 % + 8 × 3.5 % = 100 %."""
    answer = weights.weigh("index-alphashares-rmb", alphashares_universe(), AS_OF)
    assert answer["status"] == "weighted" and answer["sums_to_one"], answer["why_not"]
    w = by_id(answer)
    assert {k: w[k] for k in w if k.startswith("cgb")} == pytest.approx(
        {"cgb-10": 0.045, "cgb-9": 0.045, "cgb-8": 0.045, "cgb-7": 0.045, "cgb-6-long": 0.045})
    assert sorted(n["id"] for n in answer["not_selected"]) == ["cgb-5", "cgb-6-short"]
    assert w["agency-1"] == w["agency-2"] == pytest.approx(0.1125)
    assert w["bank-1"] == pytest.approx(0.225)
    assert w["supra-30"] == pytest.approx(0.045) and all(w[f"corp-{i}"] == pytest.approx(0.035) for i in range(8))
    assert [round(b["weight"], 10) for b in answer["buckets"]] == [0.225, 0.225, 0.225, 0.325]
    used = applied(answer)
    for reading in ("rank-largest-first", "unselected-excluded", "short-bucket-equal-share", "cap-of-index",
                    "cap-excess-within-bucket", "cap-excess-repeated", "remainder-all-other-issuers",
                    "principal-as-outstanding-face-value"):
        assert reading in used, reading
    assert "根据未偿还本金排序" in used["rank-largest-first"]["citations"][0]["quote"]
    assert "单支券上限为 4.5%" in used["cap-of-index"]["citations"][0]["quote"]


def test_a_policy_bank_bond_has_no_stated_bucket(weights: WeightsService) -> None:
    answer = weights.weigh("index-alphashares-rmb", [*alphashares_universe(), bond("cdb", issuer_type="policy-bank")],
                           AS_OF)
    assert answer["status"] == "undetermined"
    reason = next(r for r in answer["why_not"] if r["reason"] == "bucket-undetermined")
    assert reason["bonds"] == ["cdb"]


def test_a_tie_on_principal_and_duration_for_fifth_place_is_undetermined(weights: WeightsService) -> None:
    universe = [b for b in alphashares_universe() if b.id != "cgb-6-short"]
    universe.append(bond("cgb-6-twin", outstanding_cny=6 * BN, duration_years=4))
    answer = weights.weigh("index-alphashares-rmb", universe, AS_OF)
    assert answer["status"] == "undetermined"
    assert next(r for r in answer["why_not"] if r["reason"] == "tie")["bonds"] == ["cgb-6-long", "cgb-6-twin"]
    assert "tie-undetermined" in applied(answer)


def test_an_empty_bucket_leaves_its_target_unassigned(weights: WeightsService) -> None:
    """No agency bond: 22.5 % unassigned, the weights sum to 77.5 %."""
    universe = [b for b in alphashares_universe() if not b.id.startswith("agency")]
    answer = weights.weigh("index-alphashares-rmb", universe, AS_OF)
    assert answer["status"] == "incomplete" and answer["total_weight"] == pytest.approx(0.775)
    reason = next(r for r in answer["why_not"] if r["reason"] == "empty-bucket")
    assert reason["bucket"] == "index-alphashares-rmb-bucket-2"


def test_seven_bonds_cannot_carry_the_fourth_buckets_32_5_percent_under_a_4_5_percent_cap(
        weights: WeightsService) -> None:
    """Seven bonds in bucket 4: 7 × 4.5 % = 31.5 %, so 1 % of the index is left unassigned."""
    universe = [b for b in alphashares_universe() if b.id not in ("corp-6", "corp-7")]
    answer = weights.weigh("index-alphashares-rmb", universe, AS_OF)
    assert answer["status"] == "incomplete" and answer["total_weight"] == pytest.approx(0.99)
    assert next(r for r in answer["why_not"] if r["reason"] == "cap-shortfall")["unassigned"] == pytest.approx(0.01)


# ---------------------------------------------------------------- not stated, unknown, bad input
def test_an_index_whose_weighting_the_seed_does_not_state_answers_not_stated(weights: WeightsService) -> None:
    for index in ("index-sinopac-offshore-rmb", "index-bochk-china-sovereign"):
        answer = weights.weigh(index, [bond("a", market_value_cny=1)], AS_OF)
        assert answer["status"] == "not-stated" and answer["constituents"] == []
        assert answer["why_not"][0]["reason"] == "not-stated"


def test_unknown_index_duplicate_ids_and_bad_amounts_are_refused(weights: WeightsService) -> None:
    with pytest.raises(UnknownIndex):
        weights.weigh("index-nope", [], AS_OF)
    with pytest.raises(BondsError) as dup:
        weights.weigh("index-citi-dim-sum", [bond("a", market_value_cny=1), bond("a", market_value_cny=2)], AS_OF)
    assert dup.value.loc == ["bonds", 1, "id"]
    with pytest.raises(BondsError) as negative:
        weights.weigh("index-citi-dim-sum", [bond("a", market_value_cny=-5)], AS_OF)
    assert negative.value.loc == ["bonds", 0, "facts", "market_value_cny"] and "positive" in negative.value.message
    with pytest.raises(BondsError) as unknown:
        weights.weigh("index-citi-dim-sum", [bond("a", market_valu=5)], AS_OF)
    assert unknown.value.loc == ["bonds", 0, "facts", "market_valu"]


def test_the_cap_and_the_readings_are_read_from_the_kb(tmp_path: Path, seeds: Path) -> None:
    """In a copy of the KB, raise Market Vectors' cap to 40 % and read AlphaShares' 4.5 % as a share of the
    fourth bucket, with no code changed. Market Vectors: 40/20/15/10/10/5 is then weighted by market value
    alone. AlphaShares: each bond of bucket 4 may weigh 4.5 % × 32.5 % = 1.4625 % of the index; its nine bonds
    take 9 × 1.4625 % = 13.1625 %, so the weights sum to 3 × 22.5 % + 13.1625 % = 80.6625 %."""
    root = Path(__file__).resolve().parents[1]
    for folder in ("ontology", "kb"):
        shutil.copytree(root / folder, tmp_path / folder)
    edits = {tmp_path / "kb" / "seed-003" / "index-market-vectors-rmb.ttl":
             ("ck:singleConstituentCap 0.225 ;", "ck:singleConstituentCap 0.40 ;"),
             tmp_path / "kb" / "seed-003" / "index-weighting.ttl":
             ("ck:readingApplied wreading:cap-of-index ;", "ck:readingApplied wreading:cap-of-bucket ;")}
    for path, (old, new) in edits.items():
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, path
        path.write_text(text.replace(old, new), encoding="utf-8")
    service = service_for(load(tmp_path, seeds))
    values = {"a": 40, "b": 20, "c": 15, "d": 10, "e": 10, "f": 5}
    answer = service.weigh("index-market-vectors-rmb", [bond(k, market_value_cny=v) for k, v in values.items()],
                           AS_OF)
    assert by_id(answer) == {k: v / 100 for k, v in values.items()}
    assert not any(c["capped"] for c in answer["constituents"])
    answer = service.weigh("index-alphashares-rmb", alphashares_universe(), AS_OF)
    assert answer["status"] == "incomplete" and answer["total_weight"] == pytest.approx(0.806625)
    assert by_id(answer)["supra-30"] == pytest.approx(0.014625) and "cap-of-bucket" in applied(answer)


# ---------------------------------------------------------------- HTTP and the command line
MAX_BONDS = 20


@pytest.fixture(scope="module")
def client(kb: LoadedKB) -> Iterator[TestClient]:
    # a small limit, so that a request over it is cheap to send
    before = os.environ.get(MAX_BONDS_ENV)
    os.environ[MAX_BONDS_ENV] = str(MAX_BONDS)
    try:
        app = create_app(kb)
    finally:
        if before is None:
            del os.environ[MAX_BONDS_ENV]
        else:
            os.environ[MAX_BONDS_ENV] = before
    with TestClient(app) as test_client:
        yield test_client


def test_post_weights_as_json(client: TestClient) -> None:
    body = {"as_of": "2025-03-01", "bonds": [{"id": k, "facts": {**ELIGIBLE, "market_value_cny": v}}
                                             for k, v in {"a": 300, "b": 100, "c": 100}.items()]}
    response = client.post("/v1/indices/index-citi-dim-sum/weights", json=body)
    assert response.status_code == 200, response.text
    assert by_id(response.json()) == {"a": 0.6, "b": 0.2, "c": 0.2}


def csv_universe() -> str:
    header = "id,residual_maturity_years,outstanding_cny,coupon_type,denomination_currency,issue_rating,market_value_cny"
    rows = [f"{k},3,{10 * BN},fixed,CNY,moodys:A1,{v}" for k, v in {"a": 40, "b": 20, "c": 15, "d": 10, "e": 10,
                                                                     "f": 5}.items()]
    return "\n".join([header, *rows]) + "\n"


def test_post_weights_as_csv_in_chinese(client: TestClient) -> None:
    response = client.post("/v1/indices/index-market-vectors-rmb/weights?as_of=2025-03-01&lang=zh",
                           content=csv_universe(), headers={"Content-Type": "text/csv"})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["status"] == "weighted" and by_id(answer)["c"] == 0.20625
    assert answer["index"]["label"] == "Market Vectors 人民币债券指数"


def test_post_weights_as_parquet(client: TestClient) -> None:
    frame = pl.read_csv(io.StringIO(csv_universe()))
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    response = client.post("/v1/indices/index-market-vectors-rmb/weights?as_of=2025-03-01", content=buffer.getvalue(),
                           headers={"Content-Type": "application/vnd.apache.parquet"})
    assert response.status_code == 200, response.text
    assert by_id(response.json())["a"] == 0.225


def test_more_bonds_than_the_limit_is_413(client: TestClient) -> None:
    lines = "".join(json.dumps({"id": f"b{i}", "facts": {"market_value_cny": 1}}) + "\n" for i in range(MAX_BONDS + 1))
    response = client.post("/v1/indices/index-citi-dim-sum/weights", content=lines,
                           headers={"Content-Type": "application/x-ndjson"})
    assert response.status_code == 413 and str(MAX_BONDS) in response.text


@pytest.mark.parametrize(("path", "body", "headers", "status", "loc"), [
    ("/v1/indices/index-nope/weights", b'{"bonds": []}', {"Content-Type": "application/json"}, 404, None),
    ("/v1/indices/index-citi-dim-sum/weights", b'{"bonds": [{"id": "a"}]}', {"Content-Type": "application/json"},
     422, ["body", "bonds", 0, "facts"]),
    ("/v1/indices/index-citi-dim-sum/weights",
     json.dumps({"bonds": [{"id": "a", "facts": {**ELIGIBLE, "market_value_cny": "lots"}}]}).encode(),
     {"Content-Type": "application/json"}, 422, ["body", "bonds", 0, "facts", "market_value_cny"]),
    ("/v1/indices/index-citi-dim-sum/weights", b"id,market_value_cny\na,1\nb,many\n", {"Content-Type": "text/csv"},
     422, ["body", "row 2", "market_value_cny"]),
    ("/v1/indices/index-citi-dim-sum/weights", b"<bonds/>", {"Content-Type": "application/xml"}, 415,
     ["body", "Content-Type"]),
])
def test_bad_requests_name_the_field(client: TestClient, path: str, body: bytes, headers: dict[str, str],
                                     status: int, loc: list[Any] | None) -> None:
    response = client.post(path, content=body, headers=headers)
    assert response.status_code == status, response.text
    if loc is not None:
        assert response.json()["errors"][0]["loc"] == loc


def test_the_weights_command_prints_the_answer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    universe = tmp_path / "bonds.csv"
    universe.write_text(csv_universe(), encoding="utf-8")
    assert cli.main(["weights", "index-market-vectors-rmb", str(universe), "--as-of", "2025-03-01", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert by_id(answer)["f"] == 0.06875 and answer["status"] == "weighted"
    # without --json, the same answer as a table with the readings applied and their passages
    text = render_text(answer)
    assert "weighted" in text and "capped" in text and "超过部分按比例分配至其他成分券" in text
