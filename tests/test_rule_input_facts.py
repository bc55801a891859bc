"""What counts as valid input to a rule, as the schema and the 422s say it: a fact's declared domain (an
age is a whole number of at least 0), never a criterion's threshold; and entity facts as users type
them, where a name two entities share is refused rather than guessed."""

from __future__ import annotations

import httpx
import pytest

from connectkb.rules.names import AmbiguousName, EntityNames

BANK = "https://spec.edmcouncil.org/fibo/ontology/FBC/FunctionalEntities/FinancialServicesEntities/CommercialBank"
ID = "https://w3id.org/connectkb/id/"


def _detail(response: httpx.Response) -> dict:
    assert response.status_code == 422, response.text
    return response.json()["errors"][0]


def test_a_schema_driven_form_can_ask_about_a_17_year_old(http: httpx.Client) -> None:
    age = http.get("/v1/rules/witness-account-opening").json()["facts_schema"]["properties"]["age"]
    assert age["type"] == "integer" and age["minimum"] == 0 <= 17
    assert "maximum" not in age and "exclusiveMinimum" not in age
    answer = http.post("/v1/rules/witness-account-opening/evaluate", json={"facts": {"age": 17}}).json()
    assert {c["id"]: c["outcome"] for c in answer["criteria"]}["minimum-age"] == "fail"  # eligibility stays a criterion


def test_no_index_threshold_becomes_an_input_limit(http: httpx.Client) -> None:
    """Fubon Guanghua needs quotes on 10 of 20 days and 5 dealers: the schema still admits 0 of each."""
    schema = http.get("/v1/rules/index-fubon-guanghua-gov-dim-sum").json()["facts_schema"]["properties"]
    assert schema["quote_days_last_20"]["minimum"] == 0 and schema["min_daily_dealers"]["minimum"] == 0
    for rule in http.get("/v1/rules").json()["rules"]:
        properties = http.get(f"/v1/rules/{rule['id']}").json()["facts_schema"]["properties"]
        bounds = {(name, key, p.get(key)) for name, p in properties.items()
                  for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum") if key in p}
        assert all(key == "minimum" and value == 0 for _, key, value in bounds), (rule["id"], bounds)


def test_a_negative_age_is_outside_the_input_domain(http: httpx.Client) -> None:
    detail = _detail(http.post("/v1/rules/witness-account-opening/evaluate", json={"facts": {"age": -1}}))
    assert detail["loc"] == ["body", "facts", "age"] and "at least 0" in detail["msg"], detail


def test_a_name_no_bank_has_is_422_with_the_nearest_known_names(http: httpx.Client) -> None:
    detail = _detail(http.post("/v1/rules/witness-account-opening/evaluate",
                               json={"facts": {"witness_bank": "Bank of Chna"}}))
    assert detail["loc"] == ["body", "facts", "witness_bank"], detail
    assert "nearest known names" in detail["msg"] and "boc" in detail["msg"], detail


def test_a_name_in_another_case_or_width_is_the_same_name() -> None:
    names = EntityNames([(ID + "bochk", BANK, "bochk", "code", None),
                         (ID + "bochk", BANK, "Bank of China (Hong Kong) Limited", "label", "en")])
    reading = names.read("witness_bank", BANK, "BANK OF CHINA（HONG KONG）LIMITED")
    assert reading is not None and reading.id == "bochk"
    assert names.read("witness_bank", BANK, "bochk") is None  # the id itself needs no reading


def test_a_label_two_banks_share_is_refused_not_guessed() -> None:
    names = EntityNames([(ID + "asia-bank-hk", BANK, "asia-bank-hk", "code", None),
                         (ID + "asia-bank-hk", BANK, "Asia Bank", "label", "en"),
                         (ID + "asia-bank-sg", BANK, "asia-bank-sg", "code", None),
                         (ID + "asia-bank-sg", BANK, "ASIA BANK", "alt", "en")])
    with pytest.raises(AmbiguousName) as refused:
        names.read("witness_bank", BANK, "asia bank")
    assert refused.value.ids == ["asia-bank-hk", "asia-bank-sg"]
    assert names.read("witness_bank", BANK, "asia-bank-sg") is None  # either id still names one bank
