"""A rule's criteria → compiled checks, or the reason the rule stays with the reference engine."""

from __future__ import annotations

from typing import Any

from rdflib import RDF, RDFS, URIRef

from ...common.namespaces import CK
from .kinds import CHECK, KINDS, SH, Check, Ctx, PropertyCheck, Unsupported, fingerprint

NODE_ALLOWED = {RDF.type, RDFS.label, SH.targetClass, SH.property, SH.sparql, SH.severity}


class CompiledCriterion:
    def __init__(self, criterion: Any, checks: list[Check]):
        self.c = criterion
        self.checks = checks
        self.violations = [k for k in checks if k.severity == "Violation"]
        self.warnings = [k for k in checks if k.severity != "Violation"]
        self.reads = tuple(sorted({f for k in checks for f in k.reads}))
        self.dated = any(k.dated for k in checks)


def _severity(ctx: Ctx, node: Any) -> str:
    value = ctx.S.value(node, SH.severity)
    return str(value).rsplit("#", 1)[-1] if value is not None else "Violation"


def _node_checks(ctx: Ctx, node: Any) -> list[Check]:
    S = ctx.S
    for p in set(S.predicates(node)):
        if p not in NODE_ALLOWED and not str(p).startswith(str(CK)):
            raise Unsupported(f"shape {node} uses {p}")
    targets = set(S.objects(node, SH.targetClass))
    if targets != {URIRef(ctx.rule.fact_set_class)}:
        raise Unsupported(f"shape {node} targets {sorted(map(str, targets))}, not the rule's fact set")
    sparql = list(S.objects(node, SH.sparql))
    props = list(S.objects(node, SH.property))
    if sparql and props:
        raise Unsupported(f"shape {node} mixes sh:sparql and sh:property")
    severity = _severity(ctx, node)
    checks: list[Check] = []
    for check in sparql:
        if not str(check).startswith(CHECK):
            raise Unsupported(f"a custom sh:sparql on {node}")
        name = str(check)[len(CHECK):]
        known = KINDS.get(name)
        if known is None:
            raise Unsupported(f"check kind {name} is not compiled")
        select = S.value(check, SH.select)
        if select is None or fingerprint(str(select)) != known[1]:
            raise Unsupported(f"check {name}: its SELECT is not the text this compiler knows")
        if (str(node), str(check)) not in ctx.prober.helpers:
            raise Unsupported(f"check {name} is not loaded by pySHACL for {node}")
        checks.append(known[0](ctx, str(node), str(check), severity))
    for prop in props:
        checks.append(PropertyCheck(ctx, prop))
    return checks


def compile_rule(rule: Any, ctx: Ctx) -> list[CompiledCriterion]:
    out = []
    for criterion in rule.criteria:
        main = URIRef(criterion.iri)
        nodes = [main, *ctx.S.objects(main, CK.undeterminedShape)]
        checks = [k for node in nodes for k in _node_checks(ctx, node)]
        crit = CompiledCriterion(criterion, checks)
        levels = {}
        for k in checks:
            levels.setdefault(k.severity == "Violation", set()).add(k.shape)
        # results of different shapes at one level would need pySHACL's order of shapes
        for level, shapes in levels.items():
            at_level = [k for k in checks if (k.severity == "Violation") == level]
            if len(shapes) > 1 and not all(isinstance(k, PropertyCheck) for k in at_level):
                raise Unsupported(f"criterion {criterion.id}: several shapes report at one severity")
        out.append(crit)
    return out

