"""Entity facts as users type them: an id, a code or any label of the entity (any case, English or
Chinese, `HSBC`, `汇丰银行`) is read as the entity it names, and the answer says so; a name shared by
two entities is refused rather than guessed; an id that names nothing stays an entity outside the KB,
with the nearest known names suggested."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..common.backend import values_block
from ..common.ids import iri_node, to_id
from ..common.languages import lang_key, pick_label

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")
SUGGESTIONS = 3


def name_key(text: str) -> str:
    """What two spellings of one name share: NFKC (full-width brackets are brackets), case folded,
    without blanks (Chinese names have none, and "(Hong Kong)" is typed with and without them)."""
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


@dataclass
class Entity:
    id: str
    labels: dict[str, str] = field(default_factory=dict)  # language → rdfs:label
    group_note: dict[str, str] = field(default_factory=dict)  # language → why its group is not stated


@dataclass
class Reading:
    """How one typed value of an entity fact was read."""

    fact: str
    given: str
    id: str | None  # the entity it names, or None where it names none the KB knows
    suggestions: list[str] = field(default_factory=list)  # ids of the nearest known names

    def as_json(self, names: EntityNames, lang: str) -> dict[str, Any]:
        out: dict[str, Any] = {"fact": self.fact, "given": self.given, "id": self.id}
        if self.id is not None:
            out["label"] = names.label(self.id, lang)
            note = names.group_note(self.id, lang)
            if note:
                out["group"] = {"stated": False, "note": note}
        else:
            out["suggestions"] = [{"id": s, "label": names.label(s, lang)} for s in self.suggestions]
        return out

    def message(self, names: EntityNames, lang: str, with_group: bool = True) -> str:
        """The sentence added to the message of each criterion that reads the fact (the group note only
        where `with_group`: it explains an outcome that did not pass)."""
        if self.id is not None and self.id != self.given:
            label = names.label(self.id, lang)
            read = (f"“{self.given}” is read as {self.id} ({label})" if lang == "en"
                    else f"“{self.given}”按 {self.id}（{label}）理解")
        elif self.id is None:
            near = ", ".join(f"{s} ({names.label(s, lang)})" for s in self.suggestions) or \
                {"en": "none", "zh": "无", "zh-Hant": "無"}.get(lang, "none")
            read = {"en": f"no entity the knowledge base knows is named “{self.given}”; nearest known names: {near}",
                    "zh": f"知识库中没有名为“{self.given}”的实体；最接近的已知名称：{near}",
                    "zh-Hant": f"知識庫中沒有名為“{self.given}”的實體；最接近的已知名稱：{near}"}.get(lang, "")
        else:
            read = ""
        note = names.group_note(self.id, lang) if self.id is not None and with_group else None
        parts = [p for p in (read, note) if p]
        return "; ".join(parts)


class AmbiguousName(ValueError):
    def __init__(self, given: str, ids: list[str]):
        super().__init__(given)
        self.given, self.ids = given, ids


class EntityNames:
    """Every name of every coded entity, by the classes it belongs to."""

    def __init__(self, rows: Iterable[tuple[str, str, str, str, str | None]],
                 group_notes: Iterable[tuple[str, str, str | None]] = ()):
        """`rows`: (entity IRI, class IRI, name, "code" | "label" | "alt", language tag of the name);
        `group_notes`: (entity IRI, note, language tag) for entities whose group the sources leave unstated."""
        self.entities: dict[str, Entity] = {}
        self.by_class: dict[str, dict[str, set[str]]] = {}  # class → name key → entity ids
        self.codes: dict[str, set[str]] = {}  # class → the ids of its entities, as they are spelled
        self.display: dict[str, dict[str, str]] = {}  # class → name key → a spelling of it
        for iri, cls, name, kind, lang in rows:
            eid = to_id(iri)
            entity = self.entities.setdefault(eid, Entity(eid))
            key = lang_key(lang)
            if kind == "code":
                self.codes.setdefault(cls, set()).add(name)
            elif kind == "label" and key:
                entity.labels.setdefault(key, name)
            self.by_class.setdefault(cls, {}).setdefault(name_key(name), set()).add(eid)
            self.display.setdefault(cls, {}).setdefault(name_key(name), name)
        for iri, note, lang in group_notes:
            eid = to_id(iri)
            key = lang_key(lang) or "en"
            if eid in self.entities:
                self.entities[eid].group_note.setdefault(key, note)
        self._near: dict[tuple[str, str], list[str]] = {}

    @classmethod
    def from_backend(cls, select: Any, classes: list[str] | None = None) -> EntityNames:
        """`select(query)` answers SPARQL rows (the rules engine's prologue is added by the caller); only
        entities of `classes` (the classes entity facts name; None: every coded entity)."""
        only = values_block("cls", (iri_node(c) for c in classes)) if classes is not None else ""
        rows = select(f"""SELECT ?e ?cls ?name ?kind WHERE {{ {only} ?e a ?cls ; ck:code ?code .
            {{ ?e rdfs:label ?name BIND("label" AS ?kind) }} UNION {{ ?e skos:altLabel ?name BIND("alt" AS ?kind) }}
            UNION {{ ?e ck:code ?name BIND("code" AS ?kind) }} }}""")
        notes = select("""SELECT ?e ?note WHERE { ?e ck:notStated org:subOrganizationOf ; ck:code ?code ;
            skos:editorialNote ?note }""")
        return cls(((r["e"]["value"], r["cls"]["value"], r["name"]["value"], r["kind"]["value"],
                     r["name"].get("xml:lang")) for r in rows),
                   ((r["e"]["value"], r["note"]["value"], r["note"].get("xml:lang")) for r in notes))

    def label(self, eid: str, lang: str) -> str:
        return pick_label(self.entities[eid].labels, lang) or eid if eid in self.entities else eid

    def group_note(self, eid: str, lang: str) -> str | None:
        return pick_label(self.entities[eid].group_note, lang) if eid in self.entities else None

    def read(self, fact: str, entity_class: str | None, value: str) -> Reading | None:
        """None where the value is the id of an entity of the class (nothing to say); a Reading otherwise.
        Raises AmbiguousName where the value names several entities."""
        classes = [entity_class] if entity_class else sorted(self.by_class)
        if any(value in self.codes.get(c, ()) for c in classes):
            # an exact id needs no reading, unless the answer must say its group is not stated
            return Reading(fact, value, value) if self.entities[value].group_note else None
        key = name_key(value)
        ids = sorted({e for c in classes for e in self.by_class.get(c, {}).get(key, ())})
        if len(ids) > 1:
            raise AmbiguousName(value, ids)
        if ids:
            return Reading(fact, value, ids[0])
        return Reading(fact, value, None, self.nearest(classes, key))

    def nearest(self, classes: list[str], key: str) -> list[str]:
        memo_key = ("|".join(classes), key)
        if memo_key not in self._near:
            names = {n: ids for c in classes for n, ids in self.by_class.get(c, {}).items()}
            out: list[str] = []
            for near in difflib.get_close_matches(key, sorted(names), n=SUGGESTIONS * 2, cutoff=0.6):
                for eid in sorted(names[near]):
                    if eid not in out:
                        out.append(eid)
            if len(self._near) > 10_000:
                self._near.clear()
            self._near[memo_key] = out[:SUGGESTIONS]
        return self._near[memo_key]


def is_id(value: str) -> bool:
    return bool(_ID.match(value))


__all__ = ["AmbiguousName", "EntityNames", "Reading", "is_id", "name_key"]
