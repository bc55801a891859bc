"""Which engine answers: the compiled rules by default, pySHACL on request (`engine=reference`), and the
rule description says which serves it."""

from __future__ import annotations

import httpx

QUESTION = {"facts": {"age": 17, "hk_permanent_resident": True, "witness_bank": "boc"}, "as_of": "2025-03-01"}


def test_the_reference_engine_gives_the_same_answer_as_the_default(http: httpx.Client) -> None:
    default = http.post("/v1/rules/witness-account-opening/evaluate", json=QUESTION)
    reference = http.post("/v1/rules/witness-account-opening/evaluate", params={"engine": "reference"},
                          json=QUESTION)
    assert default.status_code == reference.status_code == 200
    assert default.json() == reference.json()
    assert default.json()["verdict"] == "ineligible"


def test_the_rule_description_names_the_engine_that_serves_it(http: httpx.Client) -> None:
    described = http.get("/v1/rules/witness-account-opening").json()
    assert described["engine"]["serves"] in ("compiled", "reference")
    assert described["engine"]["reason"]


def test_an_unknown_engine_is_a_422_naming_the_parameter(http: httpx.Client) -> None:
    response = http.post("/v1/rules/witness-account-opening/evaluate", params={"engine": "fast"}, json=QUESTION)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "engine"]
