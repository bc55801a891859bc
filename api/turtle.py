"""Reads the ontology and KB Turtle files, naming the file and line of any syntax error."""

from __future__ import annotations

from pathlib import Path

from rdflib import Graph


class KBSyntaxError(Exception):
    """A Turtle file of the KB cannot be parsed."""


def parse_files(files: list[Path]) -> Graph:
    graph = Graph()
    for path in files:
        try:
            graph.parse(path, format="turtle")
        except Exception as exc:  # rdflib raises several unrelated types for bad Turtle
            raise KBSyntaxError(f"{path}: {exc}") from exc
    return graph
