"""Check kinds the compiler knows: the SHACL core components the rules use, and the shared
SHACL-SPARQL checks of kb/rules/checks.ttl, each known by its IRI and the fingerprint of its SELECT
text (an edited check is not the one compiled here: it falls back to the reference engine).

Every parameter — facts, arrangements, properties, roles, thresholds, dates, labels — is read from the
rule's shapes and KB slice at compile time; what only Oxigraph decides (GROUP_CONCAT and SAMPLE order,
the first of several results) is read by running the check's own SPARQL (`probe.Prober`)."""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
import hashlib
import itertools
import re
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from rdflib import RDF, RDFS, XSD, BNode, Literal, Namespace, URIRef

from ...common.languages import lang_key
from ...common.namespaces import CK, KB
from .probe import decimal_lexical

SH = Namespace("http://www.w3.org/ns/shacl#")
ORG = Namespace("http://www.w3.org/ns/org#")
SKOS = Namespace("http://www.w3.org/2004/02/skos/core#")
FACT = Namespace(str(KB) + "fact/")
CHECK = str(KB) + "check/"
FRESH = str(KB) + "compiled-probe/not-in-the-kb"
NUMERIC = ("i", "d")


class Unsupported(Exception):
    """What the compiler cannot reproduce exactly: the rule is served by the reference engine."""


def fingerprint(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()[:16]


def to_term(node: Any) -> Any:
    if isinstance(node, URIRef):
        return str(node)
    if isinstance(node, BNode):
        raise Unsupported("a blank node where a value is expected")
    dtype = node.datatype
    if node.language is None and dtype in (None, XSD.string):
        return ("s", str(node))
    if dtype == XSD.boolean:
        return ("b", bool(node.toPython()))
    if dtype in (XSD.integer, XSD.int, XSD.long, XSD.nonNegativeInteger, XSD.positiveInteger):
        return ("i", int(str(node)))
    if dtype == XSD.decimal:
        return ("d", Decimal(str(node)))
    if dtype == XSD.date:
        return ("t", dt.date.fromisoformat(str(node)))
    return ("x", str(node), str(dtype), node.language)


def lexical(t: Any) -> str:
    """STR() of a term, as Oxigraph gives it."""
    if isinstance(t, str):
        return t
    tag, value = t[0], t[1]
    if tag == "b":
        return "true" if value else "false"
    if tag == "i":
        return str(value)
    if tag == "d":
        return decimal_lexical(value)
    if tag == "t":
        return value.isoformat()
    return str(value)


def strafter(text: str, sep: str) -> str:
    i = text.find(sep)
    return text[i + len(sep):] if i >= 0 else ""


def strbefore(text: str, sep: str) -> str:
    i = text.find(sep)
    return text[:i] if i >= 0 else ""


def xsd_integer(text: str) -> int | None:
    return int(text) if re.fullmatch(r"\s*[+-]?\d+\s*", text) else None


def dates_of(values: list[Any]) -> list[dt.date]:
    out = []
    for v in values:
        t = to_term(v)
        if not (isinstance(t, tuple) and t[0] == "t"):
            raise Unsupported(f"a date the checks compare that is not an xsd:date: {v!r}")
        out.append(t[1])
    return out


def numbers_of(values: list[Any]) -> list[Any]:
    out = []
    for v in values:
        t = to_term(v)
        if not (isinstance(t, tuple) and t[0] in NUMERIC):
            raise Unsupported(f"a threshold that is not an xsd:integer or xsd:decimal: {v!r}")
        out.append(t)
    return out


def render(templates: list[tuple[str, str]], bindings: dict[str, str]) -> dict[str, str]:
    """pySHACL's filling of a SPARQL message template ({?var} of bound variables only), by language."""
    out: dict[str, str] = {}
    for lang, text in templates:
        msg = text
        for var, val in bindings.items():
            msg = re.sub(f"{{[?$]{var}}}", str(val), msg)
        out.setdefault(lang, msg)
    return out


class Ctx:
    """What every check of one rule reads: its KB slice, shapes, labels, dated breakpoints, prober."""

    def __init__(self, rule: Any, label_of: Any, prober: Any):
        self.rule, self.B, self.S, self.label_of, self.prober = rule, rule.base, rule.shapes, label_of, prober
        self.fact_iris = {f.iri for f in rule.facts.values()}
        points: set[dt.date] = set()
        for o in self.B.objects():
            if isinstance(o, Literal):
                if o.datatype == XSD.date:
                    with contextlib.suppress(ValueError):
                        points.add(dt.date.fromisoformat(str(o)))
                lex = str(o)
                if len(lex) >= 4 and lex[:4].isdigit() and 1 <= int(lex[:4]) <= 9998:
                    points.add(dt.date(int(lex[:4]), 1, 1))
                    # a year-month (gYearMonth) compared as text with the as-of date flips on its first day
                    if re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", lex):
                        points.add(dt.date(int(lex[:4]), int(lex[5:7]), 1))
        bounds = set()
        for d in points:
            bounds.add(d)
            if d < dt.date.max:
                bounds.add(d + dt.timedelta(days=1))
        self.dates = sorted(points)
        self.bounds = sorted(bounds)
        self._labels: dict[tuple[str, str], str | None] = {}
        self._all_labels: dict[str, set[str]] = {}
        self._probed: dict[Any, list[dict[str, str]]] = {}

    def interval(self, as_of: dt.date) -> int:
        import bisect
        return bisect.bisect_right(self.bounds, as_of)

    def representative(self, i: int) -> dt.date:
        if not self.bounds:
            return dt.date(2000, 1, 1)
        return self.bounds[i - 1] if i > 0 else self.bounds[0] - dt.timedelta(days=1)

    def label(self, value: Any, lang: str) -> str | None:
        """SAMPLE(?label) of a value as the reference's store holds it: the slice's, or the one added."""
        if not isinstance(value, str):
            return None
        key = (value, lang)
        if key not in self._labels:
            found = None
            for lit in self.B.objects(URIRef(value), RDFS.label):
                tag = (lit.language or "").lower()
                if (lang == "en" and tag == "en") or (lang != "en" and lang_key(tag) == lang):
                    found = str(lit)
                    break
            self._labels[key] = found or self.label_of(value, lang, exact=True)
        return self._labels[key]

    def all_labels(self, value: Any) -> set[str]:
        if not isinstance(value, str):
            return set()
        if value not in self._all_labels:
            texts = {str(lit) for lit in self.B.objects(URIRef(value), RDFS.label)}
            for lang in ("en", "zh"):
                text = self.label_of(value, lang, exact=True)
                if text:
                    texts.add(text)
            self._all_labels[value] = texts
        return self._all_labels[value]

    def probe(self, shape: str, check: str, row: dict[str, tuple[Any, ...]], as_of: dt.date) -> list[dict[str, str]]:
        """The check's own rows on the reference's store (its lock held). At evaluation time only where
        several results differ and Oxigraph's order decides which is first; remembered per input."""
        values = {k: v for k, v in row.items() if k in self.fact_iris}
        key = (shape, check, tuple(sorted(values.items())), as_of)
        hit = self._probed.get(key)
        if hit is None:
            hit = self.prober.run(shape, check, self.prober.fact_triples(values, as_of))
            if len(self._probed) >= 10_000:
                self._probed.clear()
            self._probed[key] = hit
        return hit


class Check(abc.ABC):
    """One constraint of one shape: whether it reports on a fact set, and the messages of its first result.
    A kind implements `fires`, and either `results` (whose bindings the default `messages` renders) or
    `messages` itself."""

    kind = ""
    severity = "Violation"
    reads: tuple[str, ...] = ()
    dated = False  # depends on the as-of date (then `fires` takes it)

    def __init__(self, ctx: Ctx, shape: str, check: str, severity: str):
        self.ctx, self.shape, self.check, self.severity = ctx, shape, check, severity
        self.templates = [(lang_key(m.language) or "en", str(m)) for m in ctx.S.objects(URIRef(check), SH.message)]
        self.setup()

    def setup(self) -> None:  # noqa: B027 (a hook: most kinds read parameters here, some need none)
        """Read the check's parameters from the shape and the KB slice, once, at compile time."""

    # parameters on the criterion shape
    def params(self, pred: Any) -> list[Any]:
        return list(self.ctx.S.objects(URIRef(self.shape), pred))

    def param(self, pred: Any) -> Any:
        values = self.params(pred)
        if len(values) != 1:
            raise Unsupported(f"{self.kind} needs exactly one {pred} on the shape, found {len(values)}")
        return values[0]

    def points(self, fact: str) -> list[Any] | None:
        """The numbers a numeric fact's value is compared with (<, <=, =), for bulk evaluation: values
        between two neighbouring points decide alike. None: the check reads the value otherwise."""
        return None

    @abc.abstractmethod
    def fires(self, row: dict[str, tuple[Any, ...]], as_of: dt.date, iv: int) -> bool: ...

    def results(self, row: dict[str, tuple[Any, ...]], as_of: dt.date, iv: int) -> list[dict[str, str]]:
        """Bindings of every result (any order); [] if it does not fire."""
        raise TypeError(f"{type(self).__name__} renders its own messages and has no result bindings")

    def messages(self, row: dict[str, tuple[Any, ...]], as_of: dt.date, iv: int) -> dict[str, str]:
        found = self.results(row, as_of, iv)
        rendered = []
        for bindings in found:
            m = render(self.templates, bindings)
            if m not in rendered:
                rendered.append(m)
        if len(rendered) == 1:
            return rendered[0]
        # several different results: the first is Oxigraph's to say
        rows = self.ctx.probe(self.shape, self.check, row, as_of)
        return render(self.templates, rows[0]) if rows else {}


# ---------------------------------------------------------------- SHACL core (in a property shape)
class PropertyCheck(Check):
    kind = "sh:property"
    SUPPORTED: frozenset[Any] = frozenset({SH.hasValue, SH["in"], SH.minInclusive, SH.maxInclusive,
                                           SH.minExclusive, SH.maxExclusive, SH.minCount, SH.maxCount})
    ALLOWED = SUPPORTED | {SH.path, SH.message, SH.severity, SH.name, SH.description, RDF.type, RDFS.label}

    def __init__(self, ctx: Ctx, node: Any):
        self.ctx, self.shape, self.check = ctx, node, ""
        preds = set(ctx.S.predicates(node))
        extra = {p for p in preds if p not in self.ALLOWED}
        if extra:
            raise Unsupported(f"property shape with {sorted(map(str, extra))}")
        components = [p for p in preds if p in self.SUPPORTED]
        if len(components) != 1 or len(list(ctx.S.objects(node, components[0]))) != 1:
            raise Unsupported("a property shape must carry exactly one supported core constraint")
        path = ctx.S.value(node, SH.path)
        if not isinstance(path, URIRef):
            raise Unsupported("a property path other than one predicate")
        self.path = str(path)
        self.reads = (self.path,)
        self.component = components[0]
        self.kind = "sh:" + str(self.component).rsplit("#", 1)[1]
        severity = ctx.S.value(node, SH.severity)
        self.severity = str(severity).rsplit("#", 1)[-1] if severity is not None else "Violation"
        messages = list(ctx.S.objects(node, SH.message))
        if not messages:
            raise Unsupported("a core constraint without sh:message (pySHACL's default text is not reproduced)")
        self.static: dict[str, str] = {}
        for m in messages:
            self.static.setdefault(lang_key(getattr(m, "language", None)) or "en", str(m))
        value = ctx.S.value(node, self.component)
        if self.component == SH["in"]:
            items, node_ = [], value
            while node_ is not None and node_ != RDF.nil:
                items.append(to_term(ctx.S.value(node_, RDF.first)))
                node_ = ctx.S.value(node_, RDF.rest)
            self.value: Any = set(items)
        elif self.component in (SH.minCount, SH.maxCount):
            self.value = int(value)
        else:
            self.value = to_term(value)
            ordered = isinstance(self.value, tuple) and self.value[0] in ("i", "d", "t")
            if self.component != SH.hasValue and not ordered:
                raise Unsupported("a range bound that is not a number or a date")

    def points(self, fact: str) -> list[Any] | None:
        c = self.component
        if c in (SH.minCount, SH.maxCount):
            return []
        values = self.value if c == SH["in"] else {self.value}
        if all(isinstance(v, tuple) and v[0] in NUMERIC for v in values):
            return [v[1] for v in values]
        return None

    def _bad(self, x: Any) -> bool:
        c, v = self.component, self.value
        if not isinstance(x, tuple) or not ((x[0] in NUMERIC and v[0] in NUMERIC) or (x[0] == v[0] == "t")):
            return True
        if c == SH.minInclusive:
            return not x[1] >= v[1]
        if c == SH.maxInclusive:
            return not x[1] <= v[1]
        if c == SH.minExclusive:
            return not x[1] > v[1]
        return not x[1] < v[1]

    def fires(self, row: dict[str, tuple[Any, ...]], as_of: dt.date, iv: int) -> bool:
        vals = row.get(self.path, ())
        c = self.component
        if c == SH.hasValue:
            return self.value not in vals
        if c == SH["in"]:
            return any(x not in self.value for x in vals)
        if c == SH.minCount:
            return len(vals) < self.value
        if c == SH.maxCount:
            return len(vals) > self.value
        return any(self._bad(x) for x in vals)

    def messages(self, row: dict[str, tuple[Any, ...]], as_of: dt.date, iv: int) -> dict[str, str]:
        return dict(self.static)


# ---------------------------------------------------------------- shared SPARQL checks
class ValueListed(Check):
    kind = "value-listed-by-kb"

    def setup(self) -> None:
        B = self.ctx.B
        self.fact = str(self.param(CK.checkFact))
        self.unders = [u for u in self.params(CK.eligibleUnder)]
        self.via = self.param(CK.viaProperty)
        if not self.unders:
            raise Unsupported("no ck:eligibleUnder")
        self.reads = (self.fact,)
        self.open = {str(u) for u in self.unders
                     if (u, CK.anyInstrumentTypeEligible, Literal(True)) in B and self.via == CK.eligibleInstrumentType}
        self.accepted = {str(u): {to_term(o) for o in B.objects(u, self.via)} for u in self.unders}
        self.listed: dict[str, dict[str, str]] = {}
        if len(self.unders) == 1 and str(self.unders[0]) not in self.open:
            rows = self.ctx.probe(self.shape, self.check, {self.fact: (FRESH,)}, self.ctx.representative(0))
            if len(rows) != 1:
                raise Unsupported("the accepted values could not be read")
            keys = ("underEn", "underZh", "acceptedEn", "acceptedZh")
            self.listed[str(self.unders[0])] = {k: rows[0][k] for k in keys
                                                if k in rows[0]}

    def fires(self, row, as_of, iv):
        for x in row.get(self.fact, ()):
            for u, accepted in self.accepted.items():
                if u not in self.open and x not in accepted:
                    return True
        return False

    def results(self, row, as_of, iv):
        out = []
        for x in row.get(self.fact, ()):
            for u, accepted in self.accepted.items():
                if u not in self.open and x not in accepted:
                    if u not in self.listed:
                        return [{"x": x}, {"y": u}]  # not tabulated: let the probe answer
                    lex = lexical(x)
                    out.append({"valueEn": self.ctx.label(x, "en") or strafter(lex, "/id/"),
                                "valueZh": self.ctx.label(x, "zh") or strafter(lex, "/id/"), **self.listed[u]})
        return out


class ValueNotExcluded(Check):
    kind = "value-not-excluded-by-kb"

    def setup(self) -> None:
        B = self.ctx.B
        self.fact = str(self.param(CK.checkFact))
        under, via = self.param(CK.eligibleUnder), self.param(CK.viaProperty)
        self.reads = (self.fact,)
        self.excluded = {to_term(o) for o in B.objects(under, via)}
        self.same: dict[str, set[Any]] = {}
        for s, o in B.subject_objects(SKOS.exactMatch):
            if isinstance(s, URIRef):
                self.same.setdefault(str(s), set()).add(to_term(o) if not isinstance(o, BNode) else None)
        self.firsts = self._first_results()

    def _first_results(self) -> dict[frozenset[Any], dict[str, str]]:
        """Where several values are excluded, which result Oxigraph gives first: read at compile time for
        every set of two or more of a code list's excluded values (it depends on that set only), so that
        evaluation does not probe."""
        fact = next((f for f in self.ctx.rule.facts.values() if f.iri == self.fact), None)
        if fact is None or not fact.codes or not fact.multiple:
            return {}
        bad = sorted({v for v in fact.codes.values() if self._bad(v)})
        if len(bad) < 2 or len(bad) > 8:
            return {}
        out = {}
        for size in range(2, len(bad) + 1):
            for subset in itertools.combinations(bad, size):
                rows = self.ctx.probe(self.shape, self.check, {self.fact: subset}, self.ctx.representative(0))
                if len(rows) != size:
                    raise Unsupported(f"{self.kind}: the excluded values could not be read")
                out[frozenset(subset)] = rows[0]
        return out

    def messages(self, row, as_of, iv):
        first = self.firsts.get(frozenset(x for x in row.get(self.fact, ()) if self._bad(x)))
        return render(self.templates, first) if first is not None else super().messages(row, as_of, iv)

    def _bad(self, x: Any) -> bool:
        return x in self.excluded or bool(self.same.get(x, set()) & self.excluded) if isinstance(x, str) else \
            x in self.excluded

    def fires(self, row, as_of, iv):
        return any(self._bad(x) for x in row.get(self.fact, ()))

    def results(self, row, as_of, iv):
        return [{"valueEn": self.ctx.label(x, "en") or strafter(lexical(x), "/id/"),
                 "valueZh": self.ctx.label(x, "zh") or strafter(lexical(x), "/id/")}
                for x in row.get(self.fact, ()) if self._bad(x)]


class AtLeastMinimum(Check):
    kind = "at-least-kb-minimum"

    def setup(self) -> None:
        self.fact = str(self.param(CK.checkFact))
        self.reads = (self.fact,)
        self.mins = numbers_of(list(self.ctx.B.objects(self.param(CK.eligibleUnder), self.param(CK.viaProperty))))

    def points(self, fact):
        return [m[1] for m in self.mins] if fact == self.fact else None

    def _pairs(self, row):
        for x in row.get(self.fact, ()):
            if isinstance(x, tuple) and x[0] in NUMERIC:
                for m in self.mins:
                    if x[1] < m[1]:
                        yield x, m

    def fires(self, row, as_of, iv):
        return any(True for _ in self._pairs(row))

    def results(self, row, as_of, iv):
        return [{"valueText": lexical(x), "minText": lexical(m)} for x, m in self._pairs(row)]


class TrueWhereRequired(Check):
    kind = "true-where-kb-requires"

    def setup(self) -> None:
        self.fact = str(self.param(CK.checkFact))
        self.reads = (self.fact,)
        self.required = (self.param(CK.eligibleUnder), self.param(CK.viaProperty), Literal(True)) in self.ctx.B
        labels = list(self.ctx.B.objects(URIRef(self.shape), RDFS.label))
        en = [str(lit) for lit in labels if lit.language == "en"]
        zh = [str(lit) for lit in labels if lang_key(lit.language) == "zh"]
        if len(en) != 1 or len(zh) != 1:
            raise Unsupported("true-where-kb-requires needs one English and one Chinese label on the shape")
        self.bindings = {"requirementEn": en[0], "requirementZh": zh[0]}

    def fires(self, row, as_of, iv):
        return self.required and ("b", False) in row.get(self.fact, ())

    def results(self, row, as_of, iv):
        return [dict(self.bindings)] if self.fires(row, as_of, iv) else []


class IssuePlace(Check):
    kind = "issue-place-as-kb-requires"

    def setup(self) -> None:
        self.fact = str(self.param(CK.checkFact))
        self.reads = (self.fact,)
        places = list(self.ctx.B.objects(self.param(CK.eligibleUnder), CK.requiredIssueLocation))
        self.en = [str(lit) for lit in places if isinstance(lit, Literal) and lit.language == "en"]
        zh = [str(lit) for lit in places if isinstance(lit, Literal) and lang_key(lit.language) == "zh"]
        if len(self.en) > 1 or len(zh) > 1:
            raise Unsupported("several required issue places")
        self.bindings = {"placeEn": self.en[0]} if self.en else {}
        if zh and self.en:
            self.bindings["placeZh"] = zh[0]

    def fires(self, row, as_of, iv):
        return any(en not in self.ctx.all_labels(x) for en in self.en for x in row.get(self.fact, ()))

    def results(self, row, as_of, iv):
        return [dict(self.bindings)] if self.fires(row, as_of, iv) else []


class Outstanding(Check):
    kind = "outstanding-at-least-kb-minimum"
    OUT, DOM = str(FACT.outstanding_cny), str(FACT.issuer_domicile)

    def setup(self) -> None:
        B = self.ctx.B
        self.reads = (self.OUT, self.DOM)
        self.terms = []  # (min term, domiciles or [])
        for u in self.params(CK.eligibleUnder):
            doms = [str(d) for d in B.objects(u, CK.appliesToIssuerDomicile)]
            for amount in B.objects(u, CK.minOutstanding):
                for m in numbers_of(list(B.objects(amount, CK.amount))):
                    self.terms.append((m, doms))

    def points(self, fact):
        return [m[1] for m, _ in self.terms] if fact == self.OUT else None

    def _pairs(self, row):
        given_dom = row.get(self.DOM, ())
        for out in row.get(self.OUT, ()):
            if not (isinstance(out, tuple) and out[0] in NUMERIC):
                continue
            for m, doms in self.terms:
                if out[1] < m[1] and (not doms or any(d in given_dom for d in doms)):
                    yield out, m

    def fires(self, row, as_of, iv):
        return any(True for _ in self._pairs(row))

    def results(self, row, as_of, iv):
        return [{"outText": lexical(o), "minText": lexical(m)} for o, m in self._pairs(row)]


class ResidualMaturity(Check):
    kind = "residual-maturity-within-kb-range"
    YEARS, MATURITY = str(FACT.residual_maturity_years), str(FACT.maturity_date)
    dated = True

    def setup(self) -> None:
        self.reads = (self.YEARS, self.MATURITY)
        self.ranges = []
        for u in self.params(CK.eligibleUnder):
            mins = [self._str(o) for o in self.ctx.B.objects(u, CK.minResidualMaturity)]
            maxs = [self._str(o) for o in self.ctx.B.objects(u, CK.maxResidualMaturity)]
            if len(mins) > 1 or len(maxs) > 1:
                raise Unsupported("several residual-maturity bounds on one statement")
            min_s, max_s = (mins or [None])[0], (maxs or [None])[0]
            self.ranges.append((self._months(min_s), self._months(max_s), min_s or "-", max_s or "-"))

    def points(self, fact):
        if fact != self.YEARS:
            return None
        from fractions import Fraction
        return [Fraction(m, 12) for r in self.ranges for m in r[:2] if m is not None]

    def _str(self, literal: Any) -> str:
        """STR() of the KB literal as Oxigraph gives it (it writes durations canonically)."""
        import pyoxigraph as ox

        from ...knowledge.loader import to_oxigraph
        q = "SELECT ?x (STR(?x) AS ?s) WHERE {}"
        return next(iter(ox.Store().query(q, substitutions={ox.Variable("x"): to_oxigraph(literal)})))["s"].value

    @staticmethod
    def _months(s: str | None) -> int | None:
        if s is None:
            return None
        y = 0
        if "Y" in s:
            n = xsd_integer(strbefore(strafter(s, "P"), "Y"))
            if n is None:
                return None
            y = n * 12
        m = 0
        if "M" in s:
            n = xsd_integer(strbefore(strafter(s, "Y") if "Y" in s else strafter(s, "P"), "M"))
            if n is None:
                return None
            m = n
        return y + m

    def months(self, row, as_of):
        years = row.get(self.YEARS)
        if years:
            y = years[0]
            if not (isinstance(y, tuple) and y[0] in NUMERIC):
                return None
            return Decimal(y[1]) * 12
        mat = row.get(self.MATURITY)
        if mat:
            d = mat[0]
            if not (isinstance(d, tuple) and d[0] == "t"):
                return None
            d = d[1]
            return (d.year - as_of.year) * 12 + d.month - as_of.month - (1 if d.day < as_of.day else 0)
        return None

    def _hits(self, row, as_of):
        months = self.months(row, as_of)
        if months is None:
            return months, []
        return months, [r for r in self.ranges if (r[0] is not None and months < r[0]) or
                        (r[1] is not None and months > r[1])]

    def fires(self, row, as_of, iv):
        return bool(self._hits(row, as_of)[1])

    def results(self, row, as_of, iv):
        months, hits = self._hits(row, as_of)
        if not hits:
            return []
        rounded = (Decimal(months) * 10 + Decimal("0.5")).to_integral_value(rounding=ROUND_FLOOR) / 10
        text = decimal_lexical(rounded)
        return [{"monthsText": text, "minText": r[2], "maxText": r[3]} for r in hits]


class _Ratings(Check):
    ISSUE, ISSUER, ITYPE = str(FACT.issue_rating), str(FACT.issuer_rating), str(FACT.issuer_type)

    def setup(self) -> None:
        B = self.ctx.B
        self.reads = (self.ISSUE, self.ISSUER, self.ITYPE)
        stmts = self.params(CK.eligibleUnder)
        if len(stmts) > 1:
            raise Unsupported("several statements for one rating check")
        self.stmt = stmts[0] if stmts else None
        self.only = {str(o) for o in self.params(CK.onlyForIssuerType)}
        s = self.stmt
        self.accepts_issuer = s is None or (s, CK.acceptsIssuerRating, Literal(False)) not in B
        self.agencies = {str(a) for a in B.objects(s, CK.acceptedRatingAgency)} if s is not None else set()
        self.min_ranks: dict[str, list[Any]] = {}
        if s is not None:
            for t in B.objects(s, CK.minRating):
                for ag in B.objects(t, CK.ratingAgency):
                    for r in numbers_of(list(B.objects(t, CK.ratingRank))):
                        self.min_ranks.setdefault(str(ag), []).append(r[1])
        self.grade: dict[str, tuple[list[str], list[Any], bool]] = {}
        for g in set(B.subjects(CK.ratingRank, None)) | set(B.subjects(CK.ratingAgency, None)):
            self.grade[str(g)] = ([str(a) for a in B.objects(g, CK.ratingAgency)],
                                  [r[1] for r in numbers_of(list(B.objects(g, CK.ratingRank)))],
                                  (g, CK.investmentGrade, Literal(True)) in B)

    def ranked(self, r: Any) -> bool:
        return bool(self.grade.get(r, ((), (), False))[1]) if isinstance(r, str) else False

    def acceptable(self, r: Any) -> bool:
        if not isinstance(r, str) or r not in self.grade:
            return False
        agencies, ranks, ig = self.grade[r]
        for ag in agencies:
            for rank in ranks:
                if self.agencies and ag not in self.agencies:
                    continue
                tranks = self.min_ranks.get(ag)
                if (any(rank <= t for t in tranks) if tranks else ig):
                    return True
        return False


class RatingMeets(_Ratings):
    kind = "rating-meets-kb-minimum"

    def fires(self, row, as_of, iv):
        if self.stmt is None:
            return False
        if self.only and not any(it in self.only for it in row.get(self.ITYPE, ())):
            return False
        issue, issuer = row.get(self.ISSUE, ()), row.get(self.ISSUER, ())
        if not issue and not issuer:
            return False
        if any(self.acceptable(r) for r in (*issue, *(issuer if self.accepts_issuer else ()))):
            return False
        return all(self.ranked(r) for r in (*issue, *issuer))

    def results(self, row, as_of, iv):
        return [{}] if self.fires(row, as_of, iv) else []


class RatingUndetermined(_Ratings):
    kind = "rating-undetermined"

    def setup(self) -> None:
        super().setup()
        # SAMPLE over `fact:issue_rating|fact:issuer_rating`: with an unranked rating of each, which one
        # Oxigraph samples, read now with two pairs of unranked grades (either order of their IRIs)
        self.issue_first = False
        if self.stmt is None:
            return
        grade = str(KB) + "rating-grade/compiled-probe-"
        picks = []
        for a, b in (("a", "b"), ("b", "a")):
            rows = self.ctx.probe(self.shape, self.check, {self.ISSUE: (grade + a,), self.ISSUER: (grade + b,)},
                                  self.ctx.representative(0))
            picks.append(rows[0].get("unranked") if len(rows) == 1 else None)
        self.issue_first = picks == ["compiled-probe-a", "compiled-probe-b"]

    def _unranked(self, row):
        if self.stmt is None:
            return []
        given = (*row.get(self.ISSUE, ()), *row.get(self.ISSUER, ()))
        unranked = [r for r in given if not self.ranked(r)]
        if not unranked or any(self.acceptable(r) for r in given):
            return []
        return unranked

    def fires(self, row, as_of, iv):
        return bool(self._unranked(row))

    def results(self, row, as_of, iv):
        unranked = self._unranked(row)
        texts = sorted({strafter(lexical(r), "/rating-grade/") for r in unranked})
        issue = row.get(self.ISSUE, ())
        if len(texts) > 1 and self.issue_first and len(issue) == 1 and issue[0] in unranked:
            return [{"unranked": strafter(lexical(issue[0]), "/rating-grade/")}]
        return [{"unranked": t} for t in texts]


class RatingMissing(_Ratings):
    kind = "rating-missing"

    def fires(self, row, as_of, iv):
        return any(it in self.only for it in row.get(self.ITYPE, ())) and \
            not row.get(self.ISSUE) and not row.get(self.ISSUER)

    def results(self, row, as_of, iv):
        return [{}] if self.fires(row, as_of, iv) else []


class InForce(Check):
    kind = "in-force-on-as-of"
    dated = True

    def setup(self) -> None:
        B = self.ctx.B
        self.unders = []
        for u in self.params(CK.eligibleUnder):
            froms, tos, anns = (dates_of(list(B.objects(u, p)))
                                for p in (CK.effectiveFrom, CK.effectiveTo, CK.announcedOn))
            en = [str(lit) for lit in B.objects(u, RDFS.label) if lit.language == "en"]
            zh = [str(lit) for lit in B.objects(u, RDFS.label) if lang_key(lit.language) == "zh"]
            if max(len(froms), len(tos), len(anns), len(en), len(zh)) > 1:
                raise Unsupported("several dates or labels of one arrangement")
            f, t, a = (froms or [None])[0], (tos or [None])[0], (anns or [None])[0]
            uid = strafter(str(u), "/id/")
            self.unders.append((f, t, a, en[0] if en else uid, zh[0] if zh else uid))

    @staticmethod
    def _why(u, d):
        f, t, a = u[0], u[1], u[2]
        if (f and d < f) or (t and d > t) or (not f and a and d < a):
            if f and d < f:
                return "effective from " + f.isoformat()
            return "ended " + t.isoformat() if t and d > t else "announced " + a.isoformat()
        return None

    def fires(self, row, as_of, iv):
        return any(self._why(u, as_of) for u in self.unders)

    def results(self, row, as_of, iv):
        return [{"asOf": as_of.isoformat(), "why": why, "underEn": u[3], "underZh": u[4]}
                for u in self.unders if (why := self._why(u, as_of))]


class InForceUndetermined(Check):
    kind = "in-force-undetermined"
    dated = True

    def setup(self) -> None:
        B = self.ctx.B
        self.unders = []
        for u in self.params(CK.eligibleUnder):
            has_from = bool(list(B.objects(u, CK.effectiveFrom)))
            befores = dates_of(list(B.objects(u, CK.inForceBefore)))
            notes = [str(n) for n in B.objects(u, CK.dateNote) if (n.language or "").lower().startswith("en")]
            if len(set(notes)) > 1:
                raise Unsupported("several date notes of one arrangement")
            self.unders.append((has_from, befores, strafter(str(u), "/id/"), notes[0] if notes else "no date note"))

    @staticmethod
    def _open(u, d):
        return not u[0] and not any(b <= d for b in u[1])

    def fires(self, row, as_of, iv):
        return any(self._open(u, as_of) for u in self.unders)

    def results(self, row, as_of, iv):
        return [{"asOf": as_of.isoformat(), "underId": u[2], "note": u[3]} for u in self.unders if self._open(u, as_of)]


class _Role(Check):
    dated = True

    def setup(self) -> None:
        B = self.ctx.B
        self.fact = str(self.param(CK.checkFact))
        self.role = self.param(CK.heldRole)
        self.reads = (self.fact,)
        self.role_id = strafter(str(self.role), "/id/")
        self.has_holders = any(True for _ in B.subjects(ORG.role, self.role))
        self.assignments: dict[str, list[dict[str, Any]]] = {}
        self.entries: list[dict[str, Any]] = []
        for ra in B.subjects(ORG.role, self.role):
            entry = {"to": dates_of(list(B.objects(ra, CK.effectiveTo))),
                     "from": dates_of(list(B.objects(ra, CK.effectiveFrom))),
                     "ann": dates_of(list(B.objects(ra, CK.announcedOn))),
                     "before": dates_of(list(B.objects(ra, CK.inForceBefore))),
                     "period": [str(p) for a in B.objects(ra, CK.withinArrangement)
                                for p in B.objects(a, CK.effectiveFromPeriod)],
                     "settled": dates_of(list(B.objects(ra, CK.settledUntil))),
                     "notes": [str(n) for n in B.objects(ra, CK.dateNote)
                               if (n.language or "").lower().startswith("en")]}
            self.entries.append(entry)
            for member in B.objects(ra, ORG.member):
                self.assignments.setdefault(to_term(member), []).append(entry)
        # every English date note of the role's assignments (what SAMPLE(?n) over `?ra org:role ?role` reads)
        self.role_notes = sorted({n for e in self.entries for n in e["notes"]})

    @staticmethod
    def _starts(entry: dict[str, Any], d: dt.date, with_period: bool = True) -> bool:
        for f in entry["from"] or [None]:
            for a in entry["ann"] or [None]:
                for p in (entry["period"] if with_period else []) or [None]:
                    if f is not None:
                        ok = f <= d
                    elif a is not None:
                        ok = a <= d
                    elif p is not None:
                        year = xsd_integer(p[:4])
                        ok = year is not None and d.year >= year
                    else:
                        ok = True
                    if ok:
                        return True
        return False

    def holds(self, x: Any, d: dt.date) -> bool:
        for entry in self.assignments.get(x, ()):
            if (not entry["to"] or any(t >= d for t in entry["to"])) and self._starts(entry, d):
                return True
        return False

    def holds_without_period(self, x: Any, d: dt.date) -> bool:
        """In force by ck:effectiveFrom, else ck:announcedOn, else always (no arrangement start)."""
        for entry in self.assignments.get(x, ()):
            if (not entry["to"] or any(t >= d for t in entry["to"])) and self._starts(entry, d, with_period=False):
                return True
        return False

    def settled_on(self, entry: dict[str, Any], d: dt.date) -> bool:
        """The assignment is in force on d and ck:settledUntil is not past."""
        return (not entry["to"] or any(t >= d for t in entry["to"])) and \
            (not entry["settled"] or any(s >= d for s in entry["settled"])) and self._starts(entry, d)

    def some_settled(self, d: dt.date) -> bool:
        return any(self.settled_on(e, d) for e in self.entries)

    def value_settled(self, x: Any, d: dt.date) -> bool:
        return any(self.settled_on(e, d) for e in self.assignments.get(x, ()))

    def knowable_end(self, d: dt.date) -> bool:
        """Some assignment's term is known to have ended by d, or its arrangement had begun."""
        text = d.isoformat()
        for e in self.entries:
            if any(t < d for t in e["to"]) or any(s < d for s in e["settled"]) or \
                    any(text[:len(p)] >= p for p in e["period"]):
                return True
        return False

    def settled_term_past(self, x: Any, d: dt.date) -> bool:
        """An assignment of x in force on d whose ck:settledUntil is past."""
        return any(any(s < d for s in e["settled"]) and (not e["to"] or any(t >= d for t in e["to"]))
                   for e in self.assignments.get(x, ()))

    def not_settled_for_any(self, d: dt.date) -> bool:
        return not self.some_settled(d) and self.knowable_end(d)

    def note_of(self, notes: list[str], default: str) -> str | None:
        """COALESCE(SAMPLE(?n), default): None where several notes leave the choice to Oxigraph."""
        distinct = sorted(set(notes))
        if len(distinct) > 1:
            return None
        return distinct[0] if distinct else default

    def probe_table(self, keys: tuple[str, ...], gate: Any) -> dict[int, dict[str, str]]:
        """The KB-only bindings (labels, GROUP_CONCAT of holders) on each interval of as-of dates on which
        the check reports for a value the KB does not name."""
        table: dict[int, dict[str, str]] = {}
        for iv in range(len(self.ctx.bounds) + 1):
            d = self.ctx.representative(iv)
            if not gate(d):
                continue
            rows = self.ctx.probe(self.shape, self.check, {self.fact: (FRESH,)}, d)
            if len(rows) != 1:
                raise Unsupported(f"{self.kind}: the KB's part of the message could not be read")
            table[iv] = {k: v for k, v in rows[0].items() if k in keys}
        return table


class HoldsRole(_Role):
    kind = "holds-role-on-as-of"

    def setup(self) -> None:
        super().setup()
        self.table: dict[int, dict[str, str]] = {}
        if self.has_holders:
            for iv in range(len(self.ctx.bounds) + 1):
                rows = self.ctx.probe(self.shape, self.check, {self.fact: (FRESH,)}, self.ctx.representative(iv))
                if len(rows) != 1:
                    raise Unsupported("the holders of the role could not be read")
                keys = ("roleEn", "roleZh", "holdersEn", "holdersZh")
                self.table[iv] = {k: v for k, v in rows[0].items() if k in keys}

    def fires(self, row, as_of, iv):
        return self.has_holders and any(not self.holds(x, as_of) for x in row.get(self.fact, ()))

    def results(self, row, as_of, iv):
        if not self.has_holders:
            return []
        return [{"asOf": as_of.isoformat(), "valueId": strafter(lexical(x), "/id/"), **self.table[iv]}
                for x in row.get(self.fact, ()) if not self.holds(x, as_of)]


class HoldsRoleUndetermined(_Role):
    kind = "holds-role-undetermined"

    def _open(self, x, d):
        notes, hit = [], False
        for e in self.assignments.get(x, ()):
            if not e["from"] and (not e["to"] or any(t >= d for t in e["to"])) and \
                    (not e["before"] or any(not b <= d for b in e["before"])):
                hit = True
                notes.extend(e["notes"])
        return hit, notes

    def fires(self, row, as_of, iv):
        return any(self._open(x, as_of)[0] for x in row.get(self.fact, ()))

    def results(self, row, as_of, iv):
        out = []
        for x in row.get(self.fact, ()):
            hit, notes = self._open(x, as_of)
            if hit:
                if len(set(notes)) > 1:
                    return [{"a": "1"}, {"b": "2"}]  # SAMPLE among several: let the probe answer
                out.append({"asOf": as_of.isoformat(), "valueId": strafter(lexical(x), "/id/"), "roleId": self.role_id,
                            "note": notes[0] if notes else "no date note"})
        return out


class RoleHoldersNotListed(_Role):
    kind = "role-holders-not-listed"
    dated = False

    def fires(self, row, as_of, iv):
        return not self.has_holders and bool(row.get(self.fact))

    def results(self, row, as_of, iv):
        if self.has_holders:
            return []
        return [{"valueId": strafter(lexical(x), "/id/"), "roleId": self.role_id} for x in row.get(self.fact, ())]


class HoldsRoleWhereSettled(_Role):
    kind = "holds-role-on-as-of-where-settled"
    KEYS = ("roleEn", "roleZh", "holdersEn", "holdersZh")

    def gate(self, d: dt.date) -> bool:
        return self.has_holders and (self.some_settled(d) or not self.knowable_end(d))

    def setup(self) -> None:
        super().setup()
        self.table = self.probe_table(self.KEYS, self.gate)

    def fires(self, row, as_of, iv):
        return self.gate(as_of) and any(not self.holds(x, as_of) for x in row.get(self.fact, ()))

    def results(self, row, as_of, iv):
        if not self.gate(as_of) or iv not in self.table:
            return [] if not self.fires(row, as_of, iv) else [{"a": "1"}, {"b": "2"}]
        return [{"asOf": as_of.isoformat(), "valueId": strafter(lexical(x), "/id/"), **self.table[iv]}
                for x in row.get(self.fact, ()) if not self.holds(x, as_of)]


class RoleHoldersNotSettled(_Role):
    kind = "role-holders-not-settled-on-as-of"

    def setup(self) -> None:
        super().setup()
        self.note = self.note_of(self.role_notes, "no date note")

    def _open(self, x, d):
        return bool(self.entries) and not self.value_settled(x, d) and \
            (self.not_settled_for_any(d) or self.settled_term_past(x, d))

    def fires(self, row, as_of, iv):
        return any(self._open(x, as_of) for x in row.get(self.fact, ()))

    def results(self, row, as_of, iv):
        if self.note is None:
            return [{"a": "1"}, {"b": "2"}] if self.fires(row, as_of, iv) else []
        return [{"asOf": as_of.isoformat(), "valueId": strafter(lexical(x), "/id/"), "roleId": self.role_id,
                 "note": self.note} for x in row.get(self.fact, ()) if self._open(x, as_of)]


class SomeValueHoldsRoleWhereSettled(_Role):
    kind = "some-value-holds-role-on-as-of-where-settled"
    KEYS = ("roleEn", "roleZh", "holdersEn", "holdersZh")

    def gate(self, d: dt.date) -> bool:
        return self.some_settled(d) or not self.knowable_end(d)

    def setup(self) -> None:
        super().setup()
        self.table = self.probe_table(self.KEYS, self.gate)

    def fires(self, row, as_of, iv):
        values = row.get(self.fact, ())
        return bool(values) and self.gate(as_of) and not any(self.holds_without_period(x, as_of) for x in values)

    def results(self, row, as_of, iv):
        if not self.fires(row, as_of, iv):
            return []
        if iv not in self.table:
            return [{"a": "1"}, {"b": "2"}]
        return [{"asOf": as_of.isoformat(), **self.table[iv]}]


class SomeValueHoldsRoleUndetermined(_Role):
    kind = "some-value-holds-role-undetermined"

    def fires(self, row, as_of, iv):
        values = row.get(self.fact, ())
        if not any(self.assignments.get(x) for x in values):
            return False
        for x in values:
            for e in self.assignments.get(x, ()):
                if any(f <= as_of for f in e["from"]) and (not e["to"] or any(t >= as_of for t in e["to"])):
                    return False
        return True

    def results(self, row, as_of, iv):
        if not self.fires(row, as_of, iv):
            return []
        notes = [n for x in row.get(self.fact, ()) for e in self.assignments.get(x, ()) for n in e["notes"]]
        note = self.note_of(notes, "start date not stated")
        if note is None:
            return [{"a": "1"}, {"b": "2"}]
        return [{"asOf": as_of.isoformat(), "roleId": self.role_id, "note": note}]


class SomeValueBeyondSettledTerm(_Role):
    kind = "some-value-holds-role-beyond-settled-term"

    def setup(self) -> None:
        super().setup()
        self.note = self.note_of(self.role_notes, "no date note")

    def fires(self, row, as_of, iv):
        values = row.get(self.fact, ())
        if not values or not self.entries or any(self.value_settled(x, as_of) for x in values):
            return False
        return self.not_settled_for_any(as_of) or any(self.settled_term_past(x, as_of) for x in values)

    def results(self, row, as_of, iv):
        if not self.fires(row, as_of, iv):
            return []
        if self.note is None:
            return [{"a": "1"}, {"b": "2"}]
        return [{"asOf": as_of.isoformat(), "roleId": self.role_id, "note": self.note}]


class ValueExcludedUnderOneReading(ValueNotExcluded):
    kind = "value-excluded-under-one-reading"

    def setup(self) -> None:
        super().setup()
        under = self.param(CK.eligibleUnder)
        texts = list(self.ctx.B.objects(under, CK.ambiguity))
        en = sorted({str(t) for t in texts if isinstance(t, Literal) and t.language == "en"})
        zh = sorted({str(t) for t in texts if isinstance(t, Literal) and lang_key(t.language) == "zh"})
        if len(en) > 1 or len(zh) > 1:
            raise Unsupported("several readings texts in one language (SAMPLE would choose)")
        self.ambiguity = {"ambiguityEn": en[0] if en else "the source is ambiguous",
                          "ambiguityZh": zh[0] if zh else (en[0] if en else "来源表述有歧义")}

    def results(self, row, as_of, iv):
        return [{**r, **self.ambiguity} for r in super().results(row, as_of, iv)]


class RatingRestsOnUnstatedTerm(_Ratings):
    kind = "rating-rests-on-unstated-term"
    TERMS = (CK.acceptedRatingAgency, CK.acceptsIssuerRating, CK.minRating)

    def setup(self) -> None:
        super().setup()
        self.terms = [t for t in self.ctx.B.objects(self.stmt, CK.notStated) if t in self.TERMS] \
            if self.stmt is not None else []
        self.bindings: dict[str, str] | None = None
        if not self.terms:
            return
        grade = next((g for g in sorted(self.grade) if self.acceptable(g)), None)
        if grade is None:
            return  # no rating meets it on any reading: never reports
        row: dict[str, tuple[Any, ...]] = {self.ISSUE: (grade,)}
        if self.only:
            row[self.ITYPE] = (sorted(self.only)[0],)
        rows = self.ctx.probe(self.shape, self.check, row, self.ctx.representative(0))
        if len(rows) != 1:
            raise Unsupported("the unstated terms could not be read")
        self.bindings = {k: v for k, v in rows[0].items() if k in ("unstatedEn", "unstatedZh")}

    def fires(self, row, as_of, iv):
        if self.bindings is None:
            return False
        if self.only and not any(it in self.only for it in row.get(self.ITYPE, ())):
            return False
        return any(self.acceptable(r) for r in (*row.get(self.ISSUE, ()), *row.get(self.ISSUER, ())))

    def results(self, row, as_of, iv):
        return [dict(self.bindings)] if self.fires(row, as_of, iv) and self.bindings is not None else []


KINDS: dict[str, tuple[type[Check], str]] = {
    "value-listed-by-kb": (ValueListed, "917f5ee883d2a821"),
    "value-not-excluded-by-kb": (ValueNotExcluded, "2d1e082e3dab60ef"),
    "at-least-kb-minimum": (AtLeastMinimum, "cd0dd6358328df1f"),
    "true-where-kb-requires": (TrueWhereRequired, "775b185540b0f973"),
    "issue-place-as-kb-requires": (IssuePlace, "00c21b0ce79e1939"),
    "outstanding-at-least-kb-minimum": (Outstanding, "040f613202ed5f80"),
    "residual-maturity-within-kb-range": (ResidualMaturity, "5b21d30b0b29d26d"),
    "rating-meets-kb-minimum": (RatingMeets, "572cdd9d220edb24"),
    "rating-undetermined": (RatingUndetermined, "9f8b8ece9b2ea2d6"),
    "rating-missing": (RatingMissing, "f6ddf542ccdc0407"),
    "in-force-on-as-of": (InForce, "b21e3c9d54d1b7df"),
    "in-force-undetermined": (InForceUndetermined, "ba0c6a751770624e"),
    "holds-role-on-as-of": (HoldsRole, "2a7aa8a0356f2b35"),
    "holds-role-undetermined": (HoldsRoleUndetermined, "6401b43b0574171e"),
    "role-holders-not-listed": (RoleHoldersNotListed, "a7cd2359135eedd9"),
    "holds-role-on-as-of-where-settled": (HoldsRoleWhereSettled, "6213bbbc3b6279e1"),
    "role-holders-not-settled-on-as-of": (RoleHoldersNotSettled, "971a870538a43889"),
    "some-value-holds-role-on-as-of-where-settled": (SomeValueHoldsRoleWhereSettled, "feb4d1ee8ea8f018"),
    "some-value-holds-role-undetermined": (SomeValueHoldsRoleUndetermined, "f7c6d674a466e12f"),
    "some-value-holds-role-beyond-settled-term": (SomeValueBeyondSettledTerm, "5ece218b529e08ad"),
    "value-excluded-under-one-reading": (ValueExcludedUnderOneReading, "7c9395d9e88995d7"),
    "rating-rests-on-unstated-term": (RatingRestsOnUnstatedTerm, "c4f4ba3a8473c716"),
}
