"""Entity look-up over HTTP, asked as a new user would."""

from __future__ import annotations

import httpx


def test_health_reports_the_release_size_and_conformance(http: httpx.Client) -> None:
    body = http.get("/health").json()
    assert body["status"] == "ok"
    assert body["conforms"] is True
    assert body["triples"] > 5000
    assert body["release"]


def test_searching_hsbc_finds_the_bank(http: httpx.Client) -> None:
    body = http.get("/v1/entities", params={"q": "HSBC"}).json()
    assert body["items"][0]["id"] == "hsbc"
    assert "fse:CommercialBank" in body["items"][0]["types"]


def test_hsbc_comes_with_its_roles_and_their_dates(http: httpx.Client) -> None:
    hsbc = http.get("/v1/entities/hsbc").json()
    roles = {r["role"]["id"]: r for r in hsbc["roles"]}
    plp = roles["role-primary-liquidity-provider"]
    assert plp["effective_from"] == "2024-10-27"
    assert plp["effective_to"] == "2026-10-26"
    assert plp["citations"] and plp["citations"][0]["tier"] == "official"
    witness = roles["role-agent-witness-bank"]
    assert witness["announced_on"] == "2025-01-13"
    assert "ck:effectiveFrom" in witness["not_stated"]
    assert any("汇丰银行" in (c["quote"] or "") for c in witness["citations"])
    assert "role-offshore-rmb-repo-market-maker" in roles


def test_an_entity_answers_in_chinese_when_asked(http: httpx.Client) -> None:
    en = http.get("/v1/entities/hkma").json()
    zh = http.get("/v1/entities/hkma", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).json()
    assert en["label"] == "Hong Kong Monetary Authority"
    assert zh["label"] == "香港金融管理局"
    assert http.get("/v1/entities/hkma", params={"lang": "zh"}).json()["label"] == "香港金融管理局"


def test_a_facility_lists_its_terms_with_citations(http: httpx.Client) -> None:
    tff = http.get("/v1/entities/rmb-trade-financing-liquidity-facility").json()
    tenors = {f["value"]["id"] for f in tff["facts"] if f["property"] == "ck:tenor"}
    assert tenors == {"tenor/P1M", "tenor/P3M", "tenor/P6M"}
    assert any(c["source"] == "source/seed-000" and "1,000 亿元" in (c["quote"] or "") for c in tff["citations"])


def test_type_filter_lists_the_banks(http: httpx.Client) -> None:
    body = http.get("/v1/entities", params={"type": "CommercialBank", "limit": 100}).json()
    ids = {i["id"] for i in body["items"]}
    assert {"hsbc", "icbc", "bochk", "citibank", "bank-of-east-asia"} <= ids
    assert body["total"] == len(ids)


def test_an_unknown_id_is_a_404_with_a_message(http: httpx.Client) -> None:
    response = http.get("/v1/entities/no-such-bank")
    assert response.status_code == 404
    assert "no-such-bank" in response.json()["detail"]


def test_malformed_input_is_a_422_naming_the_field(http: httpx.Client) -> None:
    bad_type = http.get("/v1/entities", params={"type": "Spaceship"})
    assert bad_type.status_code == 422
    assert bad_type.json()["errors"][0]["loc"] == ["query", "type"]
    bad_lang = http.get("/v1/entities", params={"lang": "fr"})
    assert bad_lang.status_code == 422
    assert bad_lang.json()["errors"][0]["loc"] == ["query", "lang"]
    bad_id = http.get("/v1/entities/hs<bc>")
    assert bad_id.status_code == 422
    assert "hs<bc>" in bad_id.json()["errors"][0]["msg"]
