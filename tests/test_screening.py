"""Screening a bond universe: the readers, the answers (equal to single evaluations, compiled and
reference), POST /v1/screenings with its formats and limits, and `connectkb screen`."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import polars as pl
import pytest
from fastapi import FastAPI

from connectkb.app import create_app
from connectkb.knowledge.entities import EntityService
from connectkb.knowledge.load import LoadedKB
from connectkb.rules.compiled import CompiledRules
from connectkb.rules.engine import RulesEngine
from connectkb.screening import routes as screening_routes
from connectkb.screening.readers import BodyParser, InputError, Row, read_path
from connectkb.screening.screen import Screener, select_rules

from .conftest import REPO, LiveServer, free_port

EXAMPLE = REPO / "examples" / "bonds.csv"
AS_OF = dt.date(2012, 8, 1)
CSV_BODY = {"content-type": "text/csv"}


@pytest.fixture(scope="module")
def engines(kb: LoadedKB) -> tuple[RulesEngine, CompiledRules]:
    entities = EntityService(kb.backend)
    reference = RulesEngine(kb.backend, entities.citations, entities.label_of)
    return reference, CompiledRules(reference)


@pytest.fixture(scope="module")
def facts(engines: tuple[RulesEngine, CompiledRules]) -> dict:
    return engines[0].input_facts


def _split_feed(parser: BodyParser, data: bytes, cuts: list[int]) -> list[Row]:
    rows, last = [], 0
    for cut in [*sorted(cuts), len(data)]:
        rows += parser.feed(data[last:cut])
        last = cut
    return rows + parser.close()


# ---------------------------------------------------------------- reading bonds

def test_a_csv_row_gives_lists_ratings_and_numbers_and_an_empty_cell_is_an_absent_fact(facts: dict, tmp_path: Path) -> None:
    path = tmp_path / "bonds.csv"
    path.write_text("id,features,issue_rating,outstanding_cny,coupon_type,has_reliable_price_source\n"
                    "B1,synthetic;retail,moodys:Baa3,300000000,,TRUE\n"
                    "B2,;,,1.5e9,fixed,false\n", encoding="utf-8")
    first, second = read_path(path, facts)
    assert (first.number, first.id, first.error) == (1, "B1", None)
    assert first.facts == {"features": ["synthetic", "retail"], "issue_rating": {"agency": "moodys", "grade": "Baa3"},
                           "outstanding_cny": 300000000, "has_reliable_price_source": True}
    assert second.facts == {"features": [], "outstanding_cny": 1.5e9, "coupon_type": "fixed",
                            "has_reliable_price_source": False}


def test_a_bad_row_names_its_row_and_field_and_the_rows_after_it_are_still_read(facts: dict, tmp_path: Path) -> None:
    path = tmp_path / "bonds.csv"
    path.write_text("id,outstanding_cny,issue_rating,colour\n"
                    "ok-1,1e9,,\n"
                    "bad-number,lots,,\n"
                    "bad-rating,1e9,Baa3,\n"
                    "bad-fact,1e9,,blue\n"
                    "ok-2,2e9,sp:A,\n", encoding="utf-8")
    rows = list(read_path(path, facts))
    assert [r.id for r in rows] == ["ok-1", "bad-number", "bad-rating", "bad-fact", "ok-2"]
    assert [(r.number, r.error.field) for r in rows if r.error] == [
        (2, "outstanding_cny"), (3, "issue_rating"), (4, "colour")]
    assert "must be a number" in rows[1].error.message
    assert "agency:grade" in rows[2].error.message
    assert "unknown fact 'colour'" in rows[3].error.message
    assert rows[4].facts == {"outstanding_cny": 2e9, "issue_rating": {"agency": "sp", "grade": "A"}}


def test_a_csv_body_fed_in_any_pieces_reads_as_the_file_does(facts: dict, tmp_path: Path) -> None:
    text = ('id,features,issue_rating,outstanding_cny\n"A, with a comma",retail;puttable,fitch:A+,1e9\n'
            '"B\nwith a newline and ""quotes""",,moodys:A2,2e9\r\nC,,,x\n\nD,synthetic,,3\n')
    path = tmp_path / "bonds.csv"
    path.write_bytes(text.encode())
    expected = list(read_path(path, facts))
    assert [r.id for r in expected] == ["A, with a comma", 'B\nwith a newline and "quotes"', "C", "D"]
    data = ("\ufeff" + text.replace("A, with", "Å, with")).encode()  # a BOM and a two-byte character to split
    rng = random.Random(12)
    for _ in range(40):
        rows = _split_feed(BodyParser(facts, "csv"), data, rng.sample(range(1, len(data)), rng.randint(1, 12)))
        assert [(r.number, r.facts, r.error) for r in rows] == [(r.number, r.facts, r.error) for r in expected]
        assert rows[0].id == "Å, with a comma"


def test_json_lines_and_parquet_read_as_csv_does(facts: dict, tmp_path: Path) -> None:
    lines = [{"id": "J1", "facts": {"features": ["retail"], "issue_rating": "moodys:A2", "outstanding_cny": 1e9}},
             {"id": "J2", "facts": {"issue_rating": {"agency": "sp", "grade": "BBB"}, "maturity_date": "2014-01-01"}},
             {"id": "J3", "facts": {"wingspan": 3}}]
    body = ("\n".join(json.dumps(x) for x in lines) + "\nnot json\n").encode()
    rows = _split_feed(BodyParser(facts, "jsonl"), body, [7, 50, 51, 120])
    assert rows[0].facts == {"features": ["retail"], "issue_rating": {"agency": "moodys", "grade": "A2"},
                             "outstanding_cny": 1e9}
    assert rows[1].facts == {"issue_rating": {"agency": "sp", "grade": "BBB"}, "maturity_date": "2014-01-01"}
    assert (rows[2].number, rows[2].error.field) == (3, "wingspan")
    assert (rows[3].number, rows[3].error.field) == (4, "line")

    parquet = tmp_path / "bonds.parquet"
    pl.DataFrame({"id": ["P1", "P2"], "features": [["retail"], None],
                  "issue_rating": [{"agency": "moodys", "grade": "A2"}, None],
                  "maturity_date": [dt.date(2014, 1, 1), None], "outstanding_cny": ["1e9", "lots"]}).write_parquet(parquet)
    p1, p2 = read_path(parquet, facts)
    assert p1.facts == {"features": ["retail"], "issue_rating": {"agency": "moodys", "grade": "A2"},
                        "maturity_date": "2014-01-01", "outstanding_cny": 1e9}
    assert (p2.id, p2.error.field) == ("P2", "outstanding_cny")


def test_a_file_without_a_header_or_of_an_unknown_kind_is_refused_by_name(facts: dict, tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text(",,\n1,2,3\n")
    with pytest.raises(InputError) as exc:
        list(read_path(tmp_path / "empty.csv", facts))
    assert exc.value.field == "header"
    with pytest.raises(InputError) as exc:
        list(read_path(tmp_path / "bonds.xlsx", facts))
    assert exc.value.field == "format"


# ---------------------------------------------------------------- answers

def _sample(facts: dict) -> list[Row]:
    """The example universe, and each of its bonds with facts left out at random (missing facts)."""
    rows = list(read_path(EXAMPLE, facts))
    rng = random.Random(2012)
    thinned = []
    for r in rows:
        keep = {k: v for k, v in r.facts.items() if rng.random() > 0.3}
        thinned.append(Row(len(rows) + len(thinned) + 1, r.id + "-thinned", keep))
    return rows + thinned


def test_every_screening_answer_equals_the_single_evaluation_of_both_engines(
        engines: tuple[RulesEngine, CompiledRules], facts: dict) -> None:
    reference, compiled = engines
    rule_ids = select_rules(reference.rules, "index-*,collateral-*")
    rows = _sample(facts)
    screener = Screener(compiled, rule_ids, AS_OF)
    chunk = screener.screen(rows)
    assert chunk.errors.height == 0
    checked = 0
    for rule_id, frame in chunk.frames.items():
        assert frame["row"].to_list() == [r.number for r in rows]
        for row, got in zip(rows, frame.iter_rows(named=True), strict=True):
            single = compiled.evaluate(rule_id, row.facts, AS_OF)
            ref, _ = reference.evaluate(rule_id, row.facts, AS_OF, "en")
            for answer in (single, ref):
                assert got["verdict"] == answer["verdict"], (rule_id, row.id)
                assert {c["id"]: got[c["id"]] for c in answer["criteria"]} == \
                    {c["id"]: c["outcome"] for c in answer["criteria"]}, (rule_id, row.id)
                assert (got["missing_facts"], got["next_fact"]) == (answer["missing_facts"], answer["next_fact"])
            checked += 1
    assert checked == len(rows) * len(rule_ids)
    verdicts = {v for f in chunk.frames.values() for v in f["verdict"].to_list()}
    assert verdicts == {"eligible", "ineligible", "undetermined"}  # the sample reaches every verdict


def test_a_code_outside_its_list_is_a_bad_row_with_the_engines_message(engines: tuple[RulesEngine, CompiledRules]) -> None:
    _, compiled = engines
    rows = [Row(1, "good", {"coupon_type": "fixed"}), Row(2, "bad", {"coupon_type": "wobbly"})]
    chunk = Screener(compiled, ["index-sinopac-offshore-rmb"], AS_OF).screen(rows)
    assert chunk.frames["index-sinopac-offshore-rmb"]["id"].to_list() == ["good"]
    (error,) = chunk.errors.iter_rows(named=True)
    assert (error["row"], error["id"], error["field"]) == (2, "bad", "coupon_type")
    assert "must be one of" in error["message"] and "fixed" in error["message"]


def test_the_summary_counts_verdicts_failing_criteria_and_the_fact_to_collect_next(
        engines: tuple[RulesEngine, CompiledRules]) -> None:
    _, compiled = engines
    rows = [Row(1, "a", {"coupon_type": "floating", "outstanding_cny": 5e9, "residual_maturity_years": 2}),
            Row(2, "b", {"coupon_type": "fixed", "outstanding_cny": 5e9}),
            Row(3, "c", {"coupon_type": "fixed"})]
    screener = Screener(compiled, ["index-sinopac-offshore-rmb"], AS_OF)
    chunk = screener.screen(rows)
    summary = screener.summary.to_dict()
    (rule,) = summary["rules"]
    frame = chunk.frames["index-sinopac-offshore-rmb"]
    assert (rule["eligible"], rule["ineligible"], rule["undetermined"]) == tuple(
        frame["verdict"].to_list().count(v) for v in ("eligible", "ineligible", "undetermined"))
    assert rule["ineligible"] == 1 and rule["failing_criteria"][0]["criterion"] == "coupon-type"
    missed = {m["fact"]: m["bonds"] for m in rule["missing_facts"]}
    assert missed == {"maturity_date": 2, "outstanding_cny": 1}  # one of maturity_date, residual_maturity_years
    assert rule["next_fact"] == summary["next_fact"] == "maturity_date"


def test_a_rule_pattern_matching_nothing_names_the_known_rules(engines: tuple[RulesEngine, CompiledRules]) -> None:
    with pytest.raises(LookupError) as exc:
        select_rules(engines[0].rules, "index-*,indx-*")
    assert "indx-*" in str(exc.value) and "index-citi-dim-sum" in str(exc.value)


# ---------------------------------------------------------------- HTTP

@pytest.fixture(scope="module")
def served(kb: LoadedKB) -> Iterator[httpx.Client]:
    with LiveServer(create_app(kb), free_port()) as live, httpx.Client(base_url=live.base_url, timeout=60) as client:
        yield client


def _lines(response: httpx.Response) -> list[dict]:
    return [json.loads(line) for line in response.text.splitlines()]


def test_posting_the_example_universe_answers_a_line_per_bond_and_rule(served: httpx.Client) -> None:
    body = EXAMPLE.read_bytes()
    r = served.post("/v1/screenings", params={"rules": "index-citi-*,index-sinopac-*", "as_of": "2012-08-01"},
                    content=body, headers=CSV_BODY)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    lines = _lines(r)
    bonds = body.decode().count("\n") - 1
    assert len(lines) == 2 * bonds
    assert [(x["row"], x["rule"]) for x in lines[:2]] == [(1, "index-citi-dim-sum"), (1, "index-sinopac-offshore-rmb")]
    first = lines[0]
    assert first["id"] == "EXAMPLE-01" and first["verdict"] in ("eligible", "ineligible", "undetermined")
    assert set(first["criteria"].values()) <= {"pass", "fail", "unknown"}


def test_accept_text_csv_answers_csv_with_a_column_per_criterion(served: httpx.Client) -> None:
    r = served.post("/v1/screenings", params={"rules": "index-sinopac-*", "as_of": "2012-08-01"},
                    content=EXAMPLE.read_bytes(), headers={**CSV_BODY, "accept": "text/csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(r.text)))
    assert table[0]["id"] == "EXAMPLE-01" and table[0]["rule"] == "index-sinopac-offshore-rmb"
    assert {"residual-maturity", "issue-size", "coupon-type"} <= set(table[0])
    ndjson = _lines(served.post("/v1/screenings", params={"rules": "index-sinopac-*", "as_of": "2012-08-01"},
                                content=EXAMPLE.read_bytes(), headers=CSV_BODY))
    assert [t["verdict"] for t in table] == [x["verdict"] for x in ndjson]


def test_a_bad_row_gets_its_own_line_and_the_batch_goes_on(served: httpx.Client) -> None:
    body = b'{"id": "a", "facts": {"coupon_type": "fixed"}}\n{"id": "b", "facts": {"coupon_type": 3}}\n' \
           b'{"id": "c", "facts": {"shoe_size": 9}}\n{"id": "d", "facts": {"coupon_type": "zero"}}\n'
    r = served.post("/v1/screenings", params={"rules": "index-sinopac-*", "as_of": "2012-08-01"}, content=body,
                    headers={"content-type": "application/x-ndjson"})
    assert r.status_code == 200
    lines = _lines(r)
    assert [x["id"] for x in lines] == ["a", "b", "c", "d"]
    assert lines[1]["row"] == 2 and lines[1]["error"]["field"] == "coupon_type"
    assert lines[2]["row"] == 3 and lines[2]["error"]["field"] == "shoe_size"
    assert lines[3]["verdict"] == "ineligible" and lines[3]["criteria"]["coupon-type"] == "fail"


def test_a_parquet_body_is_screened_as_its_csv_is(served: httpx.Client) -> None:
    frame = pl.read_csv(EXAMPLE, infer_schema=False)
    buf = io.BytesIO()
    frame.write_parquet(buf)
    params = {"rules": "index-*", "as_of": "2012-08-01"}
    from_parquet = served.post("/v1/screenings", params=params, content=buf.getvalue(),
                               headers={"content-type": "application/vnd.apache.parquet"})
    from_csv = served.post("/v1/screenings", params=params, content=EXAMPLE.read_bytes(), headers=CSV_BODY)
    assert from_parquet.status_code == 200
    assert _lines(from_parquet) == _lines(from_csv)


def test_wrong_requests_are_4xx_naming_what_was_expected(served: httpx.Client) -> None:
    body = EXAMPLE.read_bytes()
    r = served.post("/v1/screenings", params={"rules": "nothing-*"}, content=body, headers=CSV_BODY)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "rules"]
    assert "index-citi-dim-sum" in r.json()["detail"]
    r = served.post("/v1/screenings", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 415 and "text/csv" in r.json()["detail"]
    r = served.post("/v1/screenings", content=body, headers={**CSV_BODY, "accept": "application/xml"})
    assert r.status_code == 406
    r = served.post("/v1/screenings", params={"as_of": "2012-13-01"}, content=body, headers=CSV_BODY)
    assert r.status_code == 422
    r = served.post("/v1/screenings", content=b",,\n", headers=CSV_BODY)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "header"]


@pytest.fixture()
def limited(kb: LoadedKB, engines: tuple[RulesEngine, CompiledRules], monkeypatch: pytest.MonkeyPatch):
    """A server of the screening routes alone, with the limits a test sets."""
    def start(**env: str) -> httpx.Client:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        app = FastAPI()
        app.include_router(screening_routes.build_router(*engines))
        live = LiveServer(app, free_port()).__enter__()
        started.append(live)
        return httpx.Client(base_url=live.base_url, timeout=60)
    started: list[LiveServer] = []
    yield start
    for live in started:
        live.__exit__()


def _universe(n: int) -> bytes:
    lines = ["id,coupon_type,outstanding_cny,residual_maturity_years"]
    lines += [f"B{i},{'fixed' if i % 3 else 'floating'},{10**9 + i},{1 + i % 5}" for i in range(1, n + 1)]
    return ("\n".join(lines) + "\n").encode()


def test_more_rows_than_the_limit_is_a_413_before_any_answer(limited) -> None:
    client = limited(CONNECTKB_SCREEN_MAX_ROWS="5")
    r = client.post("/v1/screenings", params={"rules": "index-sinopac-*"}, content=_universe(6), headers=CSV_BODY)
    assert r.status_code == 413 and "more than 5 rows" in r.json()["detail"]
    assert client.post("/v1/screenings", params={"rules": "index-sinopac-*"}, content=_universe(5),
                       headers=CSV_BODY).status_code == 200


def test_a_limit_passed_mid_stream_ends_the_answer_with_an_error_line(limited) -> None:
    client = limited(CONNECTKB_SCREEN_MAX_ROWS="5", CONNECTKB_SCREEN_CHUNK_ROWS="2")
    r = client.post("/v1/screenings", params={"rules": "index-sinopac-*"}, content=_universe(9), headers=CSV_BODY)
    assert r.status_code == 200
    lines = _lines(r)
    assert [x["id"] for x in lines[:-1]] == ["B1", "B2", "B3", "B4", "B5"]
    assert lines[-1] == {"error": {"field": "body", "message": lines[-1]["error"]["message"]}}
    assert "more than 5 rows" in lines[-1]["error"]["message"]


def test_a_body_larger_than_the_byte_limit_is_a_413(limited) -> None:
    client = limited(CONNECTKB_SCREEN_MAX_BYTES="1000")
    body = _universe(100)
    r = client.post("/v1/screenings", content=body, headers=CSV_BODY)
    assert r.status_code == 413 and "larger than 1000 bytes" in r.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is found while reading
        for i in range(0, len(body), 256):
            yield body[i:i + 256]
    r = client.post("/v1/screenings", content=chunks(), headers=CSV_BODY)
    assert r.status_code == 413 and "larger than 1000 bytes" in r.json()["detail"]


def test_a_screening_past_its_time_limit_is_a_503_with_retry_after(limited) -> None:
    client = limited(CONNECTKB_SCREEN_TIMEOUT_S="0")
    r = client.post("/v1/screenings", content=_universe(10), headers=CSV_BODY)
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert "did not finish within 0 s" in r.json()["detail"]


# ---------------------------------------------------------------- command line

def _screen(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "connectkb", "screen", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO / "api")})


def test_the_readme_example_screens_the_example_universe_and_writes_every_answer(tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    done = _screen("examples/bonds.csv", "--rules", "index-*", "--as-of", "2012-08-01", "--out", str(out))
    assert done.returncode == 0, done.stderr
    head = done.stdout.splitlines()[0].split()
    assert head[:4] == ["rule", "eligible", "ineligible", "undetermined"]
    assert "index-market-vectors-rmb" in done.stdout and "collect next" in done.stdout
    answers = [json.loads(line) for line in out.read_text().splitlines()]
    bonds = len(EXAMPLE.read_text().splitlines()) - 1
    rules = {a["rule"] for a in answers}
    assert len(answers) == bonds * len(rules) and all(r.startswith("index-") for r in rules)


def test_json_summary_and_parquet_results_agree(tmp_path: Path) -> None:
    out = tmp_path / "results.parquet"
    done = _screen(str(EXAMPLE), "--rules", "index-sinopac-*,index-citi-*", "--as-of", "2012-08-01",
                   "--out", str(out), "--json", "--lang", "zh")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    table = pl.read_parquet(out)
    for rule in summary["rules"]:
        verdicts = table.filter(pl.col("rule") == rule["rule"])["verdict"].to_list()
        assert [rule[v] for v in ("eligible", "ineligible", "undetermined")] == [
            verdicts.count(v) for v in ("eligible", "ineligible", "undetermined")]
        assert rule["label"] and any("\u4e00" <= ch <= "\u9fff" for ch in rule["label"])  # labels in Chinese


def test_a_rule_pattern_matching_nothing_exits_2_naming_the_known_rules() -> None:
    done = _screen(str(EXAMPLE), "--rules", "indx-*")
    assert done.returncode == 2
    assert "no rule matches 'indx-*'" in done.stderr and "index-citi-dim-sum" in done.stderr


# ---------------------------------------------------------------- web page

def test_the_web_page_shows_the_matrix_opens_a_failing_criterion_and_downloads_csv(kb: LoadedKB, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from .conftest import debian_tool
    from .test_browser import CHROMIUM_ARGS

    with LiveServer(create_app(kb), free_port()) as live, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=debian_tool("chromium", "chromium"), args=CHROMIUM_ARGS)
        page = browser.new_context(accept_downloads=True).new_page()
        page.goto(f"{live.base_url}/web/screening.html?lang=en")
        page.set_input_files("#file", str(EXAMPLE))
        page.fill("#rules", "index-sinopac-*,index-citi-*")
        page.fill("#as-of", "2012-08-01")
        page.click("#run")
        page.wait_for_selector("body[data-screened]")
        bonds = len(EXAMPLE.read_text().splitlines()) - 1
        assert page.locator("#matrix tbody tr").count() == bonds
        ineligible = page.locator("#matrix button.v-ineligible").first
        ineligible.click()
        first = page.locator("#detail tbody tr").first
        assert first.locator("td.o-fail").count() == 1  # the failing criterion comes first
        with page.expect_download() as download:
            page.click("#download")
        rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
        assert len(rows) == 2 * bonds and {r["rule"] for r in rows} == {"index-sinopac-offshore-rmb", "index-citi-dim-sum"}
        page.click(".lang button[data-lang=zh-Hant]")
        assert page.locator("#page-title").text_content() == "批量篩查債券"
        assert page.locator("#matrix button.v-ineligible").first.text_content() == "不符合資格"
        browser.close()
