"""Server-rendered HTML for a dereferenced IRI: the entity's labels, facts, roles and quoted sources."""

from __future__ import annotations

from html import escape
from typing import Any

from ..common.namespaces import BASE

UI = {
    "en": {"facts": "Facts", "roles": "Roles over time", "sources": "Sources", "referenced": "Referred to by",
           "formats": "Also as", "home": "connectkb", "role": "Role", "within": "Within", "announced": "Announced",
           "from": "From", "to": "To", "not_stated": "not stated", "quote": "Quote", "note": "Note",
           "tier": "Tier", "locator": "Where", "property": "Property", "value": "Value", "other": "中文"},
    "zh": {"facts": "事实", "roles": "角色（随时间）", "sources": "来源", "referenced": "被以下引用",
           "formats": "其他格式", "home": "connectkb", "role": "角色", "within": "所属安排", "announced": "公布",
           "from": "起", "to": "止", "not_stated": "未说明", "quote": "原文", "note": "说明",
           "tier": "等级", "locator": "位置", "property": "属性", "value": "值", "other": "English"},
    "zh-Hant": {"facts": "事實", "roles": "角色（隨時間）", "sources": "來源", "referenced": "被以下引用",
                "formats": "其他格式", "home": "connectkb", "role": "角色", "within": "所屬安排", "announced": "公布",
                "from": "起", "to": "止", "not_stated": "未説明", "quote": "原文", "note": "説明",
                "tier": "等級", "locator": "位置", "property": "屬性", "value": "值", "other": "English"},
}
HTML_LANG = {"en": "en", "zh": "zh-Hans", "zh-Hant": "zh-Hant"}


def local_href(iri_or_id: str) -> str:
    """Links stay on this service: a KB IRI becomes its path here."""
    if iri_or_id.startswith(BASE):
        return "/" + iri_or_id[len(BASE):]
    if ":" in iri_or_id and not iri_or_id.startswith("http"):
        prefix, _, rest = iri_or_id.partition(":")
        if prefix == "ck":
            return "/ontology/" + rest
        return "#"
    if iri_or_id.startswith("http"):
        return iri_or_id
    return "/id/" + iri_or_id


def _value(value: Any) -> str:
    if isinstance(value, dict) and "id" in value:
        label = value.get("label") or value["id"]
        return f'<a href="{escape(local_href(value.get("iri") or value["id"]))}">{escape(label)}</a>'
    if isinstance(value, dict):
        text = escape(value.get("value", ""))
        lang = value.get("lang")
        return f'<span lang="{escape(lang)}">{text}</span>' if lang else text
    return escape(str(value))


def _citation(c: dict[str, Any], t: dict[str, str]) -> str:
    parts = [f'<strong>{escape(c.get("title") or c["source"])}</strong>']
    if c.get("locator"):
        parts.append(f'{t["locator"]}: {escape(c["locator"])}')
    if c.get("tier"):
        parts.append(f'{t["tier"]}: {escape(c["tier"])}')
    body = " · ".join(parts)
    if c.get("quote"):
        body += f'<blockquote lang="zh-Hans">{escape(c["quote"])}</blockquote>'
    if c.get("note"):
        body += f'<p class="note">{escape(c["note"])}</p>'
    if c.get("address"):
        body += f'<p><a href="{escape(c["address"])}">{escape(c["address"])}</a></p>'
    return f"<li>{body}</li>"


def page(title: str, body: str, lang: str) -> str:
    return (f'<!doctype html><html lang="{HTML_LANG.get(lang, "en")}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
            f'<link rel="stylesheet" href="/web/style.css"></head><body>'
            f'<header><a href="/?lang={lang}">connectkb</a></header><main>{body}</main></body></html>')


def render_entity(entity: dict[str, Any], lang: str, self_url: str) -> str:
    t = UI.get(lang, UI["en"])
    other = "zh" if lang == "en" else "en"
    head = (f'<h1>{escape(entity.get("label") or entity["id"])}</h1>'
            f'<p class="iri"><code>{escape(entity["iri"])}</code> · '
            f'<a href="{escape(self_url)}?lang={other}">{t["other"]}</a></p>'
            f'<p class="types">{" ".join(_value(ty) for ty in entity["types"])}</p>')
    formats = " ".join(f'<a href="/sparql?query=DESCRIBE%20%3C{escape(entity["iri"])}%3E" type="{m}">{name}</a>'
                       for m, name in [("text/turtle", "Turtle")])
    rows = "".join(f'<tr><td>{escape(f.get("property_label") or f["property"])}</td><td>{_value(f["value"])}</td></tr>'
                   for f in entity["facts"])
    body = head + f'<h2>{t["facts"]}</h2><table><tr><th>{t["property"]}</th><th>{t["value"]}</th></tr>{rows}</table>'
    if entity.get("roles"):
        def cell(r: dict[str, Any], key: str) -> str:
            return _value(r[key]) if r.get(key) else ""

        role_rows = "".join(
            f'<tr><td>{cell(r, "role")}</td><td>{cell(r, "within")}</td>'
            f'<td>{escape(r.get("announced_on") or "")}</td>'
            f'<td>{escape(r.get("effective_from") or r.get("effective_from_period") or t["not_stated"])}</td>'
            f'<td>{escape(r.get("effective_to") or "")}</td></tr>' for r in entity["roles"])
        body += (f'<h2>{t["roles"]}</h2><table><tr><th>{t["role"]}</th><th>{t["within"]}</th><th>{t["announced"]}'
                 f'</th><th>{t["from"]}</th><th>{t["to"]}</th></tr>{role_rows}</table>')
    if entity.get("citations"):
        cited = "".join(_citation(c, t) for c in entity["citations"])
        body += f'<h2>{t["sources"]}</h2><ul class="citations">{cited}</ul>'
    if entity.get("referenced_by"):
        refs = "".join(f'<li>{_value({"id": r["id"], "label": r["label"]})} '
                       f'<small>({escape(r["property"])})</small></li>' for r in entity["referenced_by"][:50])
        body += f'<h2>{t["referenced"]}</h2><ul>{refs}</ul>'
    body += f'<p class="formats">{t["formats"]}: {formats} · <a href="{escape(self_url)}" data-accept="text/turtle">' \
            f'curl -H "Accept: text/turtle" {escape(self_url)}</a></p>'
    return page(entity.get("label") or entity["id"], body, lang)


def render_modules(names: list[str], lang: str) -> str:
    """The ontology's index page: its modules, each a document (Turtle, JSON-LD, N-Triples, RDF/XML)."""
    title = "connectkb ontology" if lang == "en" else "connectkb 本体"
    items = "".join(f'<li><a href="/ontology/{escape(n)}">{escape(n)}</a></li>' for n in names)
    note = ("Each module dereferences with content negotiation; <code>curl -H 'Accept: text/turtle'</code> "
            "gives its full Turtle, and <code>/ontology/</code> all of them." if lang == "en" else
            "各模块支持内容协商；<code>curl -H 'Accept: text/turtle'</code> 返回其完整 Turtle，"
            "<code>/ontology/</code> 返回全部模块。")
    return page(title, f"<h1>{escape(title)}</h1><ul>{items}</ul><p>{note}</p>", lang)
