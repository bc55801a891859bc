"""SHACL integrity check of the whole KB, with a report a person can read."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox
from pyshacl import validate
from rdflib import Graph, Namespace
from rdflib.namespace import RDF
from rdflib.term import Node

from ..common.namespaces import compact

SH = Namespace("http://www.w3.org/ns/shacl#")
_IRI = re.compile(r"https?://[^\s<>\"{}|^`]+")
# Whole-graph shapes hang off the core ontology IRI and report the offending resource as sh:value.
WHOLE_KB_FOCUS = "ck:core"


@dataclass(frozen=True)
class Violation:
    message: str
    focus: str
    path: str | None
    value: str | None
    severity: str

    def __str__(self) -> str:
        if self.focus == WHOLE_KB_FOCUS:  # the message already names the offending resource
            return f"{self.severity}: {self.message}"
        detail = f" [{self.path}]" if self.path else ""
        return f"{self.severity}: {self.focus}{detail}: {self.message}"


@dataclass
class IntegrityReport:
    conforms: bool
    violations: list[Violation] = field(default_factory=list)
    quote_problems: list[str] = field(default_factory=list)
    quotes_checked: int | None = None

    @property
    def ok(self) -> bool:
        return self.conforms and not self.quote_problems

    @property
    def text(self) -> str:
        lines = [f"SHACL integrity: {'conforms' if self.conforms else f'{len(self.violations)} violation(s)'}"]
        lines += [f"  - {v}" for v in self.violations]
        if self.quotes_checked is None:
            lines.append("seed quotes: not checked (no seed documents given: set CONNECTKB_SEEDS_DIR "
                         "or pass --seeds DIR)")
        else:
            lines.append(f"seed quotes: {self.quotes_checked} checked, {len(self.quote_problems)} not found")
            lines += [f"  - {p}" for p in self.quote_problems]
        return "\n".join(lines)


def load_shapes(files: list[Path]) -> Graph:
    shapes = Graph()
    for path in files:
        shapes.parse(path, format="turtle")
    return shapes


def validate_graph(data: Graph, shapes: Graph, store: ox.Store | None = None) -> IntegrityReport:
    """Validate the KB against the integrity shapes.

    Shapes that target a single node and carry SHACL-SPARQL constraints check the whole graph at
    once; pySHACL runs them through rdflib's engine in ~30 s on this KB (or pays a COUNT query per
    shape on an Oxigraph store), so when an Oxigraph store is given they run there as the SELECTs
    they are (tests compare both paths). All other shapes go through pySHACL.
    """
    violations: list[Violation] = []
    if store is not None:
        shapes, whole_kb = _split_whole_graph_shapes(shapes)
        violations += _run_whole_graph_constraints(whole_kb, store)
    conforms, results, text = validate(data, shacl_graph=shapes, advanced=True, inference="none",
                                       allow_warnings=True)
    if not isinstance(results, Graph):  # pySHACL could not run the shapes at all
        raise ValueError(f"the integrity shapes cannot be evaluated: {text}")
    violations = sorted(violations + _violations(results), key=lambda v: (v.focus, v.value or "", v.message))
    return IntegrityReport(conforms=bool(conforms) and not violations, violations=violations)


@dataclass(frozen=True)
class _WholeGraphConstraint:
    focus: str
    prologue: str
    select: str
    message: str


def _split_whole_graph_shapes(shapes: Graph) -> tuple[Graph, list[_WholeGraphConstraint]]:
    """(the shapes left for pySHACL, the SPARQL constraints of single-node shapes to run on the store)."""
    rest = Graph()
    rest += shapes
    whole: list[_WholeGraphConstraint] = []
    for shape in sorted(set(shapes.subjects(SH.sparql, None))):
        targets = list(shapes.objects(shape, SH.targetNode))
        if len(targets) != 1 or any((shape, p, None) in shapes for p in
                                    (SH.targetClass, SH.targetSubjectsOf, SH.targetObjectsOf, SH.target)):
            continue
        for constraint in sorted(shapes.objects(shape, SH.sparql)):
            prologue = "".join(f"PREFIX {shapes.value(d, SH.prefix)}: <{shapes.value(d, SH.namespace)}>\n"
                               for prefixes in shapes.objects(constraint, SH.prefixes)
                               for d in shapes.objects(prefixes, SH.declare))
            message = next((str(m) for m in shapes.objects(constraint, SH.message)), "constraint not met")
            whole.append(_WholeGraphConstraint(str(targets[0]), prologue,
                                               str(shapes.value(constraint, SH.select)), message))
            rest.remove((shape, SH.sparql, constraint))
    return rest, whole


def _run_whole_graph_constraints(constraints: list[_WholeGraphConstraint], store: ox.Store) -> list[Violation]:
    out: list[Violation] = []
    for c in constraints:
        solutions = store.query(c.prologue + c.select, substitutions={ox.Variable("this"): ox.NamedNode(c.focus)})
        for solution in solutions:
            value = solution["value"]
            shown = compact(value.value) if value is not None else None
            out.append(Violation(message=c.message.replace("{?value}", shown or "?"), focus=compact(c.focus),
                                 path=None, value=shown, severity="Violation"))
    return out


def _violations(results: Graph) -> list[Violation]:
    out = []
    for result in results.subjects(RDF.type, SH.ValidationResult):
        def one(pred: Node, result: Node = result) -> str | None:
            value = results.value(result, pred)
            return None if value is None else compact(str(value))

        message = _IRI.sub(lambda m: compact(m.group(0)), str(results.value(result, SH.resultMessage) or ""))
        out.append(Violation(message=message or "constraint not met",
                             focus=one(SH.focusNode) or "?", path=one(SH.resultPath),
                             value=one(SH.value), severity=(one(SH.resultSeverity) or "").rsplit("#", 1)[-1]))
    return out
