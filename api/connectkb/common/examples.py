"""The OpenAPI examples of the API's models, read from openapi-examples.yaml beside the package's modules:
dates, bank ids and release facts are data, and tests/test_openapi_examples.py checks them against the API."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

FILE = "openapi-examples.yaml"


@cache
def _document() -> dict[str, Any]:
    # importlib.resources reads it from the installed wheel as well as from a checkout
    text = resources.files("connectkb").joinpath(FILE).read_text(encoding="utf-8")
    return yaml.safe_load(text)


def examples(model: str) -> list[Any]:
    """The examples of `model` (by its class name), as JSON values."""
    found = every_model().get(model)
    if found is None:
        raise KeyError(f"{FILE} has no examples for {model}")
    return found


def every_model() -> dict[str, list[Any]]:
    """Every model's examples, by model name."""
    return _document()["examples"]


def calls() -> list[dict[str, Any]]:
    """The requests that give the answer examples: method, path, query, body and answer ([model, position])."""
    return _document()["calls"]
