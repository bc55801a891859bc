"""What changed, asked as a monthly review would: changes between dates, as-of views, the Atom feed."""

from __future__ import annotations

import shutil
from pathlib import Path

import feedparser
import httpx

from connectkb.app import create_app
from connectkb.common import paths
from connectkb.knowledge.load import load

from .conftest import LiveServer, free_port


def _changes(http: httpx.Client, start: str, end: str, **params: str) -> list[dict]:
    response = http.get("/v1/changes", params={"from": start, "to": end, **params})
    assert response.status_code == 200, response.text
    return response.json()["changes"]


def test_january_2025_shows_the_new_witness_banks_swap_connect_margin_and_the_trade_financing_facility(
        http: httpx.Client) -> None:
    changes = _changes(http, "2024-12-31", "2025-01-31")
    announced = {c["subject"]["id"] for c in changes if c["kind"] == "announced"}
    assert {"role-assignment/hsbc-agent-witness-bank", "role-assignment/standard-chartered-agent-witness-bank",
            "role-assignment/bank-of-communications-agent-witness-bank"} <= announced
    assert "rmb-trade-financing-liquidity-facility" in announced
    effective = {(c["subject"]["id"], c["date"]) for c in changes if c["kind"] == "effective"}
    assert ("collateral-swap-connect-initial-margin", "2025-01-13") in effective
    witness = next(c for c in changes if c["subject"]["id"] == "role-assignment/standard-chartered-agent-witness-bank")
    assert "effective date not stated" in witness["summary"]
    assert witness["citations"] and witness["citations"][0]["quote"]
    assert all("2025-01-01" <= c["date"] <= "2025-01-31" for c in changes)


def test_q1_2024_shows_the_february_collateral_change_and_not_the_2025_measures(http: httpx.Client) -> None:
    changes = _changes(http, "2023-12-31", "2024-03-31")
    assert [(c["date"], c["kind"], c["subject"]["id"]) for c in changes] == [
        ("2024-02-26", "effective", "collateral-hkma-rmb-liquidity")]


def test_a_quiet_window_is_empty(http: httpx.Client) -> None:
    assert _changes(http, "2020-01-01", "2020-12-31") == []


def test_a_change_known_only_by_month_counts_only_when_the_whole_month_is_in_the_window(http: httpx.Client) -> None:
    september = _changes(http, "2021-08-31", "2021-09-30")
    launch = next(c for c in september if c["subject"]["id"] == "southbound-bond-connect")
    assert launch["date"] == "2021-09" and launch["date_precision"] == "month"
    assert "month 2021-09" in launch["summary"]
    assert not [c for c in _changes(http, "2021-09-10", "2021-09-20") if c["subject"]["id"] == "southbound-bond-connect"]


def test_a_later_source_correcting_a_seed_is_a_change(http: httpx.Client) -> None:
    changes = _changes(http, "2022-12-31", "2023-01-31", kind="corrected")
    assert [c["subject"]["id"] for c in changes] == ["cny-onshore-rate"]
    assert "9:30" in changes[0]["summary"]


def test_amended_terms_show_as_amendments(http: httpx.Client) -> None:
    changes = _changes(http, "2024-10-26", "2024-10-27", kind="amended")
    assert any(c["subject"]["id"] == "rmb-liquidity-facility" and "20 billion" in c["summary"] for c in changes)


def test_filters_by_measure_kind_and_topic_and_answers_in_chinese(http: httpx.Client) -> None:
    witness = _changes(http, "2018-12-31", "2025-12-31", measure="witness-account-opening")
    assert {c["subject"]["id"] for c in witness} >= {"role-assignment/hsbc-agent-witness-bank"}
    # the measure, its roles and announcements, and the package that contains it
    assert all("witness" in c["subject"]["id"] or c["subject"]["id"] == "package-2025-01-13" for c in witness)
    ended = _changes(http, "2026-01-01", "2026-12-31", kind="ended")
    assert ended and all(c["kind"] == "ended" for c in ended)
    assert any(c["subject"]["id"] == "role-assignment/hsbc-primary-liquidity-provider-2024" for c in ended)
    zh = _changes(http, "2024-02-25", "2024-02-26", lang="zh")
    assert zh[0]["summary"].startswith("生效：")


def test_bad_dates_are_422_naming_the_parameter(http: httpx.Client) -> None:
    for params, field in [({"from": "2025-13-01", "to": "2025-12-31"}, "from"),
                          ({"from": "2025-01-01", "to": "yesterday"}, "to"),
                          ({"from": "2025-02-01", "to": "2025-01-01"}, "from"),
                          ({"to": "2025-01-01"}, "from"),
                          ({"from": "2025-01-01", "to": "2025-02-01", "kind": "rumoured"}, "kind")]:
        response = http.get("/v1/changes", params=params)
        assert response.status_code == 422, params
        assert response.json()["errors"][0]["loc"] == ["query", field]


def test_witness_banks_as_of_before_and_after_the_expansion(http: httpx.Client) -> None:
    before = http.get("/v1/entities", params={"role": "role-agent-witness-bank", "as_of": "2024-12-01"}).json()
    assert {i["id"] for i in before["items"]} == {"icbc", "boc", "ccb", "cmb", "bank-of-east-asia"}
    assert all(i["role_status"]["state"] == "possibly in force" for i in before["items"])  # start dates unstated
    after = http.get("/v1/entities", params={"role": "role-agent-witness-bank", "as_of": "2025-02-01"}).json()
    assert after["total"] == 8
    states = {i["id"]: i["role_status"]["state"] for i in after["items"]}
    assert states["boc"] == "in force" and states["hsbc"] == "possibly in force"


def test_an_entity_as_of_a_day_shows_the_roles_it_held(http: httpx.Client) -> None:
    before = http.get("/v1/entities/hsbc", params={"as_of": "2024-10-01"}).json()
    assert before["roles"] == []
    later = http.get("/v1/entities/hsbc", params={"as_of": "2025-03-01"}).json()
    roles = {r["role"]["id"]: r["status"]["state"] for r in later["roles"]}
    assert roles == {"role-primary-liquidity-provider": "in force", "role-offshore-rmb-repo-market-maker": "in force",
                     "role-agent-witness-bank": "possibly in force"}
    after_term = http.get("/v1/entities/hsbc", params={"as_of": "2026-11-01"}).json()
    assert "role-primary-liquidity-provider" not in {r["role"]["id"] for r in after_term["roles"]}


def test_an_unknown_role_is_422(http: httpx.Client) -> None:
    response = http.get("/v1/entities", params={"role": "role-astronaut", "as_of": "2025-01-01"})
    assert response.status_code == 422 and response.json()["errors"][0]["loc"] == ["query", "role"]


def test_the_change_feed_is_valid_atom_with_one_entry_per_change(http: httpx.Client) -> None:
    params = {"from": "2024-12-31", "to": "2025-01-31"}
    response = http.get("/v1/changes.atom", params=params)
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "atom10"
    changes = _changes(http, **{"start": params["from"], "end": params["to"]})
    assert len(feed.entries) == len(changes)
    for entry in feed.entries:
        assert entry.id and entry.title and entry.updated and entry.summary
        # RFC 4287 §4.1.1: an entry without content has an alternate link, here the changed thing's page
        alternate = [link for link in entry.links if link.rel == "alternate"]
        assert len(alternate) == 1 and "/id/" in alternate[0].href
    assert feed.feed.title and feed.feed.updated and feed.feed.author
    assert any(link.rel == "self" for link in feed.feed.links)


def test_a_dated_fact_added_in_turtle_appears_among_the_changes(tmp_path: Path, seeds: Path) -> None:
    root = paths.data_root()
    for part in ("ontology", "kb", "releases"):
        shutil.copytree(root / part, tmp_path / part)
    (tmp_path / "kb" / "seed-000" / "zz-new-fact.ttl").write_text("""
@prefix ck:   <https://w3id.org/connectkb/ontology/> .
@prefix kb:   <https://w3id.org/connectkb/id/> .
@prefix cite: <https://w3id.org/connectkb/id/citation/> .
@prefix src:  <https://w3id.org/connectkb/id/source/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd:  <http://www.w3.org/2001/XMLSchema#> .
kb:test-new-measure a ck:PolicyMeasure ;
    rdfs:label "A measure added for the test"@en , "测试新增措施"@zh-Hans ;
    ck:announcedOn "2026-06-01"^^xsd:date ; ck:effectiveFrom "2026-07-01"^^xsd:date ;
    ck:citation cite:test-new-measure .
cite:test-new-measure a ck:Citation ; ck:source src:seed-000 ; ck:locator "summary" ; ck:quote "继续全力支持香港国际金融中心建设"@zh-Hans .
""", encoding="utf-8")
    app = create_app(load(tmp_path, seeds))
    with LiveServer(app, free_port()) as live, httpx.Client(base_url=live.base_url) as http:
        changes = _changes(http, "2026-05-31", "2026-07-31")
        mine = [(c["date"], c["kind"]) for c in changes if c["subject"]["id"] == "test-new-measure"]
        assert mine == [("2026-06-01", "announced"), ("2026-07-01", "effective")]
