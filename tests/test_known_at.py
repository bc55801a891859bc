"""What would we have answered with the knowledge base we had then? Answers as known at a frozen release
(2026.11.0 holds the seeds only; later public sources came in 2026.11.1), and the answers that changed
between two releases with the statements that changed them."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

OTCC_BOND = {"bond_type": "policy-bank-bond", "held_via": "northbound-bond-connect"}


def evaluate(client: TestClient, rule: str, facts: dict[str, Any], as_of: str, **params: str) -> dict[str, Any]:
    response = client.post(f"/v1/rules/{rule}/evaluate", params=params, json={"facts": facts, "as_of": as_of})
    assert response.status_code == 200, response.text
    return response.json()


def outcome(answer: dict[str, Any], criterion: str) -> str:
    return next(c["outcome"] for c in answer["criteria"] if c["id"] == criterion)


def test_the_seeds_alone_did_not_date_the_otcc_margin_use(client: TestClient) -> None:
    """The seed gives no date for OTCC margin; a later source dates it 2025-03-21."""
    now = evaluate(client, "collateral-otcc-margin", OTCC_BOND, "2025-06-01")
    then = evaluate(client, "collateral-otcc-margin", OTCC_BOND, "2025-06-01", as_known_at="2026.11.0")
    assert now["verdict"] == "eligible" and "known_at" not in now
    assert then["verdict"] == "undetermined"
    assert outcome(then, "in-force-on-as-of") == "unknown"
    assert "do not state when collateral-otcc-margin took effect" in next(
        c["message"] for c in then["criteria"] if c["id"] == "in-force-on-as-of")
    assert then["known_at"]["release"] == "2026.11.0" and then["known_at"]["current"] is False
    assert then["known_at"]["issued"] == "2026-11-21"


def test_use_one_required_no_plp_before_the_rule_fidelity_release(client: TestClient) -> None:
    """2026.11.1 made use 1 require a Primary Liquidity Provider; as known at 2026.11.0 the rule had no
    such criterion and no posting_bank fact."""
    bond = {"bond_type": "chinese-government-bond", "held_via": "northbound-bond-connect"}
    now = evaluate(client, "collateral-hkma-rmb-liquidity", bond, "2025-06-01")
    then = evaluate(client, "collateral-hkma-rmb-liquidity", bond, "2025-06-01", as_known_at="2026.11.0")
    assert now["verdict"] == "undetermined" and now["missing_facts"] == ["posting_bank"]
    assert then["verdict"] == "eligible"
    assert "posting-bank-role" not in [c["id"] for c in then["criteria"]]
    refused = client.post("/v1/rules/collateral-hkma-rmb-liquidity/evaluate", params={"as_known_at": "2026.11.0"},
                          json={"facts": {**bond, "posting_bank": "hsbc"}, "as_of": "2025-06-01"})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["loc"] == ["body", "facts", "posting_bank"]


def test_a_rule_whose_checks_then_had_other_sparql_is_answered_by_the_reference_engine(client: TestClient) -> None:
    """2026.11.0's holds-role check has a different SELECT from today's: the compiled engine, which
    implements today's text, must not answer for it."""
    rule = client.get("/v1/rules/witness-account-opening").json()
    assert rule["engine"]["serves"] == "compiled"
    facts = {"age": 17, "hk_permanent_resident": True, "witness_bank": "boc"}
    then = evaluate(client, "witness-account-opening", facts, "2025-03-01", as_known_at="2026.11.0")
    assert then["known_at"]["engine"] == "reference"
    assert "SELECT is not the text this compiler knows" in then["known_at"]["engine_reason"]
    assert then["verdict"] == "ineligible" and outcome(then, "minimum-age") == "fail"


def test_the_current_release_by_name_is_today_s_answer(client: TestClient) -> None:
    current = client.get("/v1/releases").json()["current"]
    now = evaluate(client, "collateral-otcc-margin", OTCC_BOND, "2025-06-01")
    named = evaluate(client, "collateral-otcc-margin", OTCC_BOND, "2025-06-01", as_known_at=current)
    assert named["known_at"]["current"] is True and named["known_at"]["release"] == current
    assert {k: v for k, v in named.items() if k != "known_at"} == now


def test_a_release_is_built_once_and_kept(client: TestClient) -> None:
    known = client.app.state.known_at  # type: ignore[attr-defined]
    evaluate(client, "collateral-otcc-margin", OTCC_BOND, "2025-06-01", as_known_at="2026.11.0")
    builds = known.builds
    evaluate(client, "collateral-otcc-margin", OTCC_BOND, "2025-07-01", as_known_at="2026.11.0")
    assert known.builds == builds


def test_the_timeline_as_known_at_the_seeds_release(client: TestClient) -> None:
    body = {"facts": OTCC_BOND, "from": "2025-01-01", "to": "2025-12-31"}
    now = client.post("/v1/rules/collateral-otcc-margin/timeline", json=body).json()
    then = client.post("/v1/rules/collateral-otcc-margin/timeline", params={"as_known_at": "2026.11.0"},
                       json=body).json()
    assert [i["verdict"] for i in now["intervals"]] == ["ineligible", "eligible"]
    assert [(i["from"], i["to"], i["verdict"]) for i in then["intervals"]] == [
        ("2025-01-01", "2025-12-31", "undetermined")]
    # that release marks no missing date on the use; its date note says the seed gives none
    unstated = then["intervals"][0]["open"]["not_stated"]
    assert [u["subject"]["id"] for u in unstated] == ["collateral-otcc-margin"]
    assert "The seed gives no date for this use" in unstated[0]["notes"][0]
    assert then["known_at"]["release"] == "2026.11.0"


def test_the_changes_as_known_at_the_seeds_release_lack_the_later_sources(client: TestClient) -> None:
    params = {"from": "2025-03-01", "to": "2025-03-31"}
    now = client.get("/v1/changes", params=params).json()
    then = client.get("/v1/changes", params={**params, "as_known_at": "2026.11.0"}).json()
    def took_effect(answer: dict[str, Any]) -> set[str]:
        return {c["subject"]["id"] for c in answer["changes"] if c["kind"] == "effective"}
    assert "collateral-otcc-margin" in took_effect(now)
    assert "collateral-otcc-margin" not in took_effect(then)
    assert then["known_at"]["release"] == "2026.11.0"


@pytest.mark.parametrize("path", ["/v1/changes?as_known_at=1999.1",
                                  "/v1/changes?as_known_at=..%2F..%2Fetc"])
def test_an_unknown_release_is_a_422_naming_the_parameter(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "as_known_at"]


def test_evaluating_as_known_at_an_unknown_release_is_a_422(client: TestClient) -> None:
    response = client.post("/v1/rules/collateral-otcc-margin/evaluate", params={"as_known_at": "2030.1.0"},
                           json={"facts": OTCC_BOND})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "as_known_at"]
    assert "2026.11.0" in response.json()["errors"][0]["msg"]


def test_the_release_diff_names_the_answers_that_changed_and_why(client: TestClient) -> None:
    corporate = {"bond_type": "corporate-bond", "held_via": "northbound-bond-connect"}
    outside = {"bond_type": "policy-bank-bond", "held_via": "other"}
    response = client.post("/v1/rules/collateral-otcc-margin/release-diff",
                           params={"from": "2026.11.0", "to": "2026.11.1"},
                           json={"fact_sets": [OTCC_BOND, corporate, outside], "as_of": "2025-06-01"})
    assert response.status_code == 200, response.text
    diff = response.json()
    assert diff["from"]["release"] == "2026.11.0" and diff["to"]["release"] == "2026.11.1"
    first = next(d for d in diff["differing"] if d["fact_set"] == 0)
    assert first["verdicts"] == {"from": "undetermined", "to": "eligible"}
    assert [(c["criterion"], c["from"], c["to"]) for c in first["criteria"]] == [
        ("in-force-on-as-of", "unknown", "pass")]
    use = next(s for s in first["statements"] if s["id"] == "collateral-otcc-margin")
    added = [(a["property"], a["value"].get("value")) for a in use["added"]] + \
        [(c["property"], c["to"].get("value")) for c in use["changed"]]
    assert ("ck:effectiveFrom", "2025-03-21") in added


def test_in_a_screening_list_a_fact_the_earlier_release_did_not_know_is_that_row_s_answer(
        client: TestClient) -> None:
    with_bank = {"bond_type": "chinese-government-bond", "held_via": "northbound-bond-connect", "posting_bank": "hsbc"}
    response = client.post("/v1/rules/collateral-hkma-rmb-liquidity/release-diff",
                           params={"from": "2026.11.0", "to": "2026.11.1"},
                           json={"fact_sets": [with_bank], "as_of": "2025-06-01"})
    assert response.status_code == 200
    [row] = response.json()["differing"]
    assert row["verdicts"]["from"].startswith("malformed fact posting_bank")
    assert row["verdicts"]["to"] == "eligible"


def test_the_release_diff_of_a_single_fact_set_that_did_not_change(client: TestClient) -> None:
    response = client.post("/v1/rules/witness-account-opening/release-diff",
                           params={"from": "2026.11.1", "to": "2026.11.1"},
                           json={"facts": {"age": 17}, "as_of": "2025-03-01"})
    assert response.status_code == 200
    assert response.json()["differing"] == [] and response.json()["fact_sets"] == 1


@pytest.mark.parametrize(("params", "body", "loc"), [
    ({"from": "2026.11.0", "to": "nope"}, {"facts": OTCC_BOND}, ["query", "to"]),
    ({"from": "2026.11.0"}, {"facts": OTCC_BOND}, ["query", "to"]),
    ({"from": "2026.11.0", "to": "2026.11.1"}, {}, ["body", "facts"]),
    ({"from": "2026.11.0", "to": "2026.11.1"}, {"facts": OTCC_BOND, "fact_sets": [OTCC_BOND]}, ["body", "facts"]),
    ({"from": "2026.11.0", "to": "2026.11.1"}, {"facts": {"bond_type": 7}}, ["body", "facts", "bond_type"]),
])
def test_a_malformed_release_diff_is_a_422(client: TestClient, params: dict[str, str], body: dict[str, Any],
                                           loc: list[str]) -> None:
    response = client.post("/v1/rules/collateral-otcc-margin/release-diff", params=params, json=body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == loc
