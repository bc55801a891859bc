"""Are the OpenAPI examples true? Each example request is sent to the running API, and the answer example
it documents must match what the API really answers: verdicts, criteria and their outcomes, interval
boundaries, ids, releases and their dates, every member an example shows."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectkb.common.examples import FILE, calls, every_model, examples

ELIDED = "…"  # an example's stand-in for any text, or for the rest of a text it begins
# a store's size and a load's duration change with every edit of the KB: an example shows only their kind
ANY_NUMBER = {"triples", "load_seconds"}
# a timeline is shown whole: its boundaries are the answer
WHOLE_LISTS = {"intervals"}


def mismatches(shown: Any, real: Any, where: str = "") -> list[str]:
    """How the real answer differs from what the example shows (empty: the example is true)."""
    key = where.rsplit(".", 1)[-1].split("[")[0]
    if isinstance(shown, str) and shown.endswith(ELIDED):
        begins = shown.removesuffix(ELIDED).rstrip()
        return [] if isinstance(real, str) and real.startswith(begins) else [f"{where}: the API answers {real!r}"]
    if key in ANY_NUMBER and isinstance(shown, int | float) and not isinstance(shown, bool):
        return [] if isinstance(real, int | float) and not isinstance(real, bool) else [f"{where}: {real!r}"]
    if isinstance(shown, dict):
        if not isinstance(real, dict):
            return [f"{where}: the API answers {real!r}"]
        return [m for k, v in shown.items()
                for m in (mismatches(v, real[k], f"{where}.{k}") if k in real else [f"{where}.{k}: not answered"])]
    if isinstance(shown, list) and key not in WHOLE_LISTS and objects(shown) and objects(real):
        return selection_mismatches(shown, real, where)
    if isinstance(shown, list):
        if not isinstance(real, list) or len(shown) != len(real):
            return [f"{where}: the example shows {len(shown)} items, the API answers {real!r}"]
        return [m for i, (s, r) in enumerate(zip(shown, real, strict=True)) for m in mismatches(s, r, f"{where}[{i}]")]
    return [] if shown == real and type(shown) is type(real) else [f"{where}: the example shows {shown!r}, "
                                                                   f"the API answers {real!r}"]


def objects(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


def selection_mismatches(shown: list[Any], real: Any, where: str) -> list[str]:
    """A list of objects shows a selection of the real list, in its order."""
    if not isinstance(real, list):
        return [f"{where}: the API answers {real!r}"]
    position = 0
    for i, item in enumerate(shown):
        while position < len(real) and mismatches(item, real[position], f"{where}[{position}]"):
            position += 1
        if position == len(real):
            near = [mismatches(item, r, f"{where}[{j}]") for j, r in enumerate(real)]
            closest = min(near, key=len) if near else ["the API answers an empty list"]
            return [f"{where}: item {i} of the example is not answered (in order); closest: {closest}"]
        position += 1
    return []


def ask(http: httpx.Client, call: dict[str, Any]) -> httpx.Response:
    body = examples(call["body"][0])[call["body"][1]] if "body" in call else None
    return http.request(call["method"], call["path"], params=call.get("query"), json=body)


def call_id(call: dict[str, Any]) -> str:
    shown = call.get("answer") or call["body"]
    return f"{call['method']} {call['path']} → {shown[0]}[{shown[1]}]"


@pytest.mark.parametrize("call", calls(), ids=call_id)
def test_an_example_answer_is_what_the_api_answers_to_its_example_request(http: httpx.Client,
                                                                           call: dict[str, Any]) -> None:
    response = ask(http, call)
    assert response.status_code == 200, response.text
    if "answer" not in call:
        return
    real = response.json()
    if "member" in call:
        real = real[call["member"]]
    model, position = call["answer"]
    found = mismatches(examples(model)[position], real, model)
    assert not found, "\n".join(found)


def test_every_example_is_sent_or_checked_by_a_call() -> None:
    used = {tuple(call[part]) for call in calls() for part in ("body", "answer") if part in call}
    every = {(model, i) for model, listed in every_model().items() for i in range(len(listed))}
    assert every - used == set(), f"examples of {FILE} that no call sends or checks"
    assert used - every == set(), f"calls of {FILE} naming examples it does not have"


def test_a_false_example_is_caught() -> None:
    answer = {"verdict": "ineligible", "criteria": [{"id": "a", "outcome": "fail"}, {"id": "b", "outcome": "pass"}],
              "intervals": [{"from": "x"}, {"from": "y"}], "missing_facts": ["age"], "note": "long text"}
    assert mismatches({"verdict": "ineligible", "criteria": [{"id": "b", "outcome": "pass"}], "note": "long …",
                       "intervals": [{"from": "x"}, {"from": "y"}], "missing_facts": ["age"]}, answer) == []
    for false in ({"verdict": "eligible"}, {"criteria": [{"id": "a", "outcome": "pass"}]},
                  {"criteria": [{"id": "b"}, {"id": "a"}]}, {"intervals": [{"from": "x"}]},
                  {"missing_facts": []}, {"next_fact": None}, {"note": "short …"}):
        assert mismatches(false, answer) != [], false


def schemas_titled(document: Any, title: str) -> list[dict[str, Any]]:
    if isinstance(document, dict):
        here = [document] if document.get("title") == title and "examples" in document else []
        return here + [s for v in document.values() for s in schemas_titled(v, title)]
    if isinstance(document, list):
        return [s for v in document for s in schemas_titled(v, title)]
    return []


def without_nulls(value: Any) -> Any:
    """The document is written without null members (FastAPI leaves them out of the schemas it serves)."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def test_the_openapi_document_builds_and_carries_every_example(http: httpx.Client) -> None:
    response = http.get("/openapi.json")
    assert response.status_code == 200, response.text
    document = response.json()
    for model, listed in every_model().items():
        found = schemas_titled(document, model)
        assert found, f"/openapi.json has no schema {model} with examples"
        for schema in found:
            assert schema["examples"] == without_nulls(listed), model
