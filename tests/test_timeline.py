"""From when could we post it, and until when? A verdict's timeline, interval by interval, built on the
seeds' dates: the five collateral uses taking effect, the witness banks going from five to eight, and
the Primary Liquidity Providers' designation ending on 2026-10-26."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from typing import Any

import pytest
from fastapi.testclient import TestClient

from connectkb.time.known_at import Engines

NORTHBOUND = {"held_via": "northbound-bond-connect"}
ADULT = {"age": 30, "hk_permanent_resident": True, "holds_account_with_witness_bank": True,
         "documents": ["hk-permanent-identity-card", "mainland-travel-permit"], "account_class": "II"}
DAY = dt.timedelta(days=1)


def spans(answer: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(i["from"], i["to"], i["verdict"]) for i in answer["intervals"]]


def assert_every_boundary_holds(engines: Engines, rule: str, facts: dict[str, Any], answer: dict[str, Any]) -> None:
    """Each interval's verdict is the single-day answer on its first and last day, and the day before
    each boundary gives the previous interval's verdict: the boundaries are where the answer changes."""
    for item in answer["intervals"]:
        for day in (item["from"], item["to"]):
            got = engines.compiled.evaluate(rule, facts, dt.date.fromisoformat(day))
            assert got["verdict"] == item["verdict"], (rule, day)
    for before, after in zip(answer["intervals"], answer["intervals"][1:], strict=False):
        first = dt.date.fromisoformat(after["from"])
        assert dt.date.fromisoformat(before["to"]) == first - DAY
        assert engines.compiled.evaluate(rule, facts, first - DAY)["verdict"] == before["verdict"]
        assert after["change"]["date"] == after["from"]
        assert after["change"]["criteria"], "a boundary names the criterion that moved"


@pytest.mark.parametrize(("rule", "bond", "took_effect"), [
    ("collateral-swap-connect-initial-margin", "policy-bank-bond", "2025-01-13"),
    ("collateral-offshore-rmb-repo", "local-government-bond", "2025-02-10"),
    ("collateral-rmb-trade-financing", "chinese-government-bond", "2025-02-28"),
    ("collateral-otcc-margin", "policy-bank-bond", "2025-03-21"),
])
def test_from_when_can_a_northbound_bond_serve_each_collateral_use(engines: Engines, rule: str, bond: str,
                                                                   took_effect: str) -> None:
    facts = {**NORTHBOUND, "bond_type": bond}
    answer = engines.timelines.timeline(rule, facts, dt.date(2024, 1, 1), dt.date(2027, 12, 31))
    day_before = (dt.date.fromisoformat(took_effect) - DAY).isoformat()
    assert spans(answer) == [("2024-01-01", day_before, "ineligible"), (took_effect, "2027-12-31", "eligible")]
    change = answer["intervals"][1]["change"]
    assert change["criteria"] == [{"criterion": "in-force-on-as-of", "from": "fail", "to": "pass"}]
    because = change["because"]
    assert [(b["subject"]["id"], b["property"], b["date"]) for b in because] == \
        [(rule, "ck:effectiveFrom", took_effect)]
    assert because[0]["citations"], "the date that moves the verdict is cited"
    assert_every_boundary_holds(engines, rule, facts, answer)


def test_use_one_for_hsbc_follows_the_plp_designation_that_ends_on_2026_10_26(engines: Engines) -> None:
    rule = "collateral-hkma-rmb-liquidity"
    facts = {**NORTHBOUND, "bond_type": "chinese-government-bond", "posting_bank": "hsbc"}
    answer = engines.timelines.timeline(rule, facts, dt.date(2024, 1, 1), dt.date(2027, 12, 31))
    assert spans(answer) == [("2024-01-01", "2024-02-25", "ineligible"),
                             ("2024-02-26", "2024-10-26", "undetermined"),
                             ("2024-10-27", "2026-10-26", "eligible"),
                             ("2026-10-27", "2027-12-31", "undetermined")]
    took_effect, designated, lapsed = (i["change"] for i in answer["intervals"][1:])
    assert [(b["subject"]["id"], b["date"]) for b in took_effect["because"]] == [(rule, "2024-02-26")]
    assert [(b["subject"]["id"], b["property"], b["date"], b["moves"]) for b in designated["because"]] == [
        ("role-assignment/hsbc-primary-liquidity-provider-2024", "ck:effectiveFrom", "2024-10-27", "from this day")]
    assert [(b["subject"]["id"], b["property"], b["date"], b["moves"]) for b in lapsed["because"]] == [
        ("role-assignment/hsbc-primary-liquidity-provider-2024", "ck:effectiveTo", "2026-10-26", "the day after")]
    assert lapsed["because"][0]["citations"][0]["tier"] == "official"
    assert lapsed["criteria"] == [{"criterion": "posting-bank-role", "from": "pass", "to": "unknown"}]
    assert_every_boundary_holds(engines, rule, facts, answer)


def test_a_bank_that_is_no_plp_fails_only_while_the_plps_are_known(engines: Engines) -> None:
    rule = "collateral-hkma-rmb-liquidity"
    facts = {**NORTHBOUND, "bond_type": "chinese-government-bond", "posting_bank": "dbs-bank"}
    answer = engines.timelines.timeline(rule, facts, dt.date(2024, 1, 1), dt.date(2027, 12, 31))
    assert spans(answer) == [("2024-01-01", "2024-02-25", "ineligible"),
                             ("2024-02-26", "2024-10-26", "undetermined"),
                             ("2024-10-27", "2026-10-26", "ineligible"),
                             ("2026-10-27", "2027-12-31", "undetermined")]
    assert_every_boundary_holds(engines, rule, facts, answer)


def test_bank_of_china_one_of_the_first_five_witness_banks(engines: Engines) -> None:
    facts = {**ADULT, "witness_bank": "boc"}
    answer = engines.timelines.timeline("witness-account-opening", facts, dt.date(2018, 1, 1), dt.date(2026, 12, 31))
    assert spans(answer) == [("2018-01-01", "2018-12-31", "ineligible"),
                             ("2019-01-01", "2025-01-12", "undetermined"),
                             ("2025-01-13", "2026-12-31", "eligible")]
    pilot, new_policy = answer["intervals"][1], answer["intervals"][2]
    # the pilot began in 2019 (no month or day): the year is the boundary
    assert [(b["property"], b["date"]) for b in pilot["change"]["because"]] == [("ck:effectiveFromPeriod",
                                                                                "2019-01-01")]
    # before 2025-01-13 the seed only says Bank of China offered it "before the new policy"
    unstated = pilot["open"]["not_stated"]
    assert [(u["subject"]["id"], u["property"]) for u in unstated] == [
        ("role-assignment/boc-agent-witness-bank", "ck:effectiveFrom")]
    assert "no date on which this bank began" in unstated[0]["notes"][0]
    assert [(b["subject"]["id"], b["property"]) for b in new_policy["change"]["because"]] == [
        ("role-assignment/boc-agent-witness-bank", "ck:inForceBefore")]
    assert_every_boundary_holds(engines, "witness-account-opening", facts, answer)


@pytest.mark.parametrize("bank", ["hsbc", "standard-chartered", "bank-of-communications"])
def test_the_three_banks_added_on_2025_01_13_stay_open_after_it(engines: Engines, bank: str) -> None:
    facts = {**ADULT, "witness_bank": bank}
    answer = engines.timelines.timeline("witness-account-opening", facts, dt.date(2024, 1, 1), dt.date(2026, 12, 31))
    assert spans(answer) == [("2024-01-01", "2025-01-12", "ineligible"), ("2025-01-13", "2026-12-31", "undetermined")]
    after = answer["intervals"][1]
    assert [(b["property"], b["date"]) for b in after["change"]["because"]] == [("ck:announcedOn", "2025-01-13")]
    # the undetermined stretch names the date the sources do not give: when this bank began
    assert [(u["subject"]["id"], u["property"]) for u in after["open"]["not_stated"]] == [
        (f"role-assignment/{bank}-agent-witness-bank", "ck:effectiveFrom")]
    assert "gives no date from which the bank offers the service" in after["open"]["not_stated"][0]["notes"][0]
    assert_every_boundary_holds(engines, "witness-account-opening", facts, answer)


def test_a_bond_drops_out_of_the_citi_index_when_less_than_a_year_remains(engines: Engines) -> None:
    facts = {"outstanding_cny": 2_000_000_000, "coupon_type": "fixed", "denomination_currency": "CNY",
             "settlement_currency": "CNY", "features": [], "issuer_type": "foreign-corporate",
             "issuer_domicile": "offshore", "issue_rating": {"agency": "moodys", "grade": "A2"},
             "maturity_date": "2015-08-01"}
    answer = engines.timelines.timeline("index-citi-dim-sum", facts, dt.date(2012, 1, 1), dt.date(2016, 12, 31))
    assert spans(answer) == [("2012-01-01", "2014-08-01", "eligible"), ("2014-08-02", "2016-12-31", "ineligible")]
    assert answer["intervals"][1]["change"]["criteria"] == [
        {"criterion": "residual-maturity", "from": "pass", "to": "fail"}]
    # no KB statement moves this boundary: the maturity date the facts give does
    assert answer["intervals"][1]["change"]["input_facts"] == ["maturity_date"]
    assert_every_boundary_holds(engines, "index-citi-dim-sum", facts, answer)


def test_a_ten_year_timeline_reads_change_dates_not_every_day(engines: Engines) -> None:
    facts = {**NORTHBOUND, "bond_type": "chinese-government-bond", "posting_bank": "hsbc"}
    answer = engines.timelines.timeline("collateral-hkma-rmb-liquidity", facts, dt.date(2020, 1, 1),
                                        dt.date(2029, 12, 31))
    assert len(answer["intervals"]) == 4
    assert answer["evaluations"] < 100  # 3,653 days; the rule's slice has a handful of dates


def test_the_timeline_route_gives_the_engine_s_answer(client: TestClient, engines: Engines) -> None:
    facts = {**NORTHBOUND, "bond_type": "policy-bank-bond"}
    response = client.post("/v1/rules/collateral-otcc-margin/timeline",
                           json={"facts": facts, "from": "2025-01-01", "to": "2025-12-31"})
    assert response.status_code == 200
    expected = engines.timelines.timeline("collateral-otcc-margin", facts, dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    assert response.json() == expected


def test_the_timeline_in_chinese(client: TestClient) -> None:
    response = client.post("/v1/rules/collateral-otcc-margin/timeline?lang=zh", json={
        "facts": {**NORTHBOUND, "bond_type": "policy-bank-bond"}, "from": "2025-01-01", "to": "2025-12-31"})
    assert response.json()["lang"] == "zh"
    assert any("\u4e00" <= ch <= "\u9fff" for ch in response.json()["label"])


@pytest.mark.parametrize(("body", "loc"), [
    ({"facts": {}, "from": "2026-01-01", "to": "2025-01-01"}, ["body", "to"]),
    ({"facts": {}, "from": "2025-01-01"}, ["body", "to"]),
    ({"facts": {}, "from": "2025-02-30", "to": "2025-12-31"}, ["body", "from"]),
    ({"facts": {"bond_type": "gold"}, "from": "2025-01-01", "to": "2025-12-31"}, ["body", "facts", "bond_type"]),
    ({"facts": {}, "from": "2025-01-01", "to": "2025-12-31", "asof": "x"}, ["body", "asof"]),
])
def test_a_malformed_timeline_request_is_a_422_naming_the_field(client: TestClient, body: dict[str, Any],
                                                                loc: list[str]) -> None:
    response = client.post("/v1/rules/collateral-otcc-margin/timeline", json=body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == loc


def test_a_timeline_of_an_unknown_rule_is_a_404(client: TestClient) -> None:
    response = client.post("/v1/rules/no-such-rule/timeline", json={"facts": {}, "from": "2025-01-01",
                                                                     "to": "2025-12-31"})
    assert response.status_code == 404


def test_the_timeline_command_prints_the_boundaries() -> None:
    facts = json.dumps({**NORTHBOUND, "bond_type": "policy-bank-bond"})
    done = subprocess.run([sys.executable, "-m", "connectkb", "timeline", "collateral-otcc-margin", "--facts", facts,
                           "--from", "2025-01-01", "--to", "2025-12-31", "--json"],
                          capture_output=True, text=True, check=True)
    answer = json.loads(done.stdout)
    assert spans(answer) == [("2025-01-01", "2025-03-20", "ineligible"), ("2025-03-21", "2025-12-31", "eligible")]
    assert answer["known_at"]["current"] is True


def test_the_openapi_document_types_every_rules_route(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    routes = {("/v1/rules", "get"): "RuleList", ("/v1/rules/{rule_id}", "get"): "RuleDescription",
              ("/v1/rules/{rule_id}/evaluate", "post"): "EvaluationAnswer",
              ("/v1/rules/{rule_id}/timeline", "post"): "TimelineAnswer",
              ("/v1/rules/{rule_id}/release-diff", "post"): "ReleaseDiffAnswer"}
    for (path, method), model in routes.items():
        operation = paths[path][method]
        assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
            "$ref": f"#/components/schemas/{model}"}
        if method == "post":
            assert {"404", "422"} <= set(operation["responses"]), path
            assert operation["requestBody"]["content"]["application/json"]["schema"]["examples"]
    evaluate = paths["/v1/rules/{rule_id}/evaluate"]["post"]
    assert {"application/json", "text/turtle", "application/ld+json"} <= set(evaluate["requestBody"]["content"])
    assert "as_known_at" in {p["name"] for p in evaluate["parameters"]}


def test_the_timeline_command_names_a_malformed_fact() -> None:
    done = subprocess.run([sys.executable, "-m", "connectkb", "timeline", "witness-account-opening", "--facts",
                           '{"age": "x"}', "--from", "2025-01-01", "--to", "2025-12-31", "--json"],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert json.loads(done.stdout) == {"error": "age: 'age' must be a whole number"}
