"""What each criterion's outcome rests on, and the tier of those sources: a date that only a news
report gives (the KB's ck:dateCitation says which passage a dated fact rests on) must not decide a
verdict as quietly as an official one.

A criterion rests on the KB resources its parameters name (ck:eligibleUnder; the assignments of
ck:heldRole), or, where it names none, on its own citations. A check that reads dates
(ck:readsDates) rests on a resource's ck:dateCitation where it has one, the passage that gives its
dates; the others on its ck:citation. A tier marked ck:caveatInAnswers (secondary) is named next to
the verdict when an outcome rests on it alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..common.backend import values_block
from ..common.ids import iri_node


@dataclass
class RestsOn:
    citation_iris: list[str]
    tiers: list[str]  # tier codes of their sources, sorted
    caveat: bool  # every source is of a tier answers must name


@dataclass
class SourceTiers:
    select: Any  # select(query, bindings) → rows, the rules engine's prologue added
    citations: Any  # citations(iris, lang) → citation dicts
    caveat_tiers: set[str] = field(default_factory=set)
    _cache: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.caveat_tiers = {r["code"]["value"] for r in self.select(
            "SELECT ?code WHERE { ?t a ck:Tier ; ck:code ?code ; ck:caveatInAnswers true }")}

    def for_criteria(self, criterion_iris: list[str]) -> dict[str, RestsOn]:
        """What each criterion rests on, read for all criteria at once."""
        iris = sorted(set(criterion_iris))
        rows = self._rows(iris, """?c (ck:undeterminedShape?) ?shape .
            { ?shape ck:eligibleUnder ?u } UNION { ?shape ck:heldRole ?role . ?u org:role ?role }
            ?shape sh:sparql ?check .
            OPTIONAL { ?check ck:readsDates ?dated }
            OPTIONAL { ?u ck:dateCitation ?dateCite }
            OPTIONAL { ?u ck:citation ?cite }""")
        unnamed = [c for c in iris if c not in rows]  # a criterion naming no resource rests on its own citations
        own = self._rows(unnamed, "?c ck:citation ?cite") if unnamed else {}
        out = {}
        for c in iris:
            cited = {(r["dateCite"] if "dateCite" in r and r.get("dated", {}).get("value") == "true" else
                      r.get("cite", {})).get("value") for r in rows[c]} if c in rows else \
                {r["cite"]["value"] for r in own.get(c, [])}
            out[c] = self._rests_on(sorted(i for i in cited if i is not None))
        return out

    def _rows(self, criterion_iris: list[str], pattern: str) -> dict[str, list[dict[str, Any]]]:
        values = values_block("c", (iri_node(c) for c in criterion_iris))
        out: dict[str, list[dict[str, Any]]] = {}
        for row in self.select(f"SELECT ?c ?u ?cite ?dateCite ?dated WHERE {{ {values} {pattern} }}"):
            out.setdefault(row["c"]["value"], []).append(row)
        return out

    def _rests_on(self, cited: list[str]) -> RestsOn:
        tiers = sorted({c["tier"] for c in self.citations(cited, "en") if c.get("tier")})
        return RestsOn(cited, tiers, bool(tiers) and set(tiers) <= self.caveat_tiers)

    def caveat_sources(self, criterion_iri: str, rests: RestsOn, lang: str) -> list[dict[str, Any]]:
        key = (criterion_iri, lang)
        if key not in self._cache:
            seen: dict[str, dict[str, Any]] = {}
            for c in self.citations(rests.citation_iris, lang):
                seen.setdefault(c["source"], {"source": c["source"], "title": c.get("title"), "tier": c.get("tier")})
            self._cache[key] = [seen[s] for s in sorted(seen)]
        return [dict(s) for s in self._cache[key]]


def caveat_message(criterion_id: str, sources: list[dict[str, Any]], lang: str) -> str:
    if lang == "en":
        named = "; ".join(f"{s['title'] or s['source']} (tier: {s['tier']})" for s in sources)
        return f"the outcome of {criterion_id} rests only on: {named}"
    if lang == "zh-Hant":
        named = "；".join(f"{s['title'] or s['source']}（來源層級：{s['tier']}）" for s in sources)
        return f"{criterion_id} 的結果僅依據：{named}"
    named = "；".join(f"{s['title'] or s['source']}（来源层级：{s['tier']}）" for s in sources)
    return f"{criterion_id} 的结果仅依据：{named}"


__all__ = ["RestsOn", "SourceTiers", "caveat_message"]
