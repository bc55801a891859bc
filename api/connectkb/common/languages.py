"""The languages labels and messages come in, and how a request picks one."""

from __future__ import annotations


def normalise_lang(lang: str | None) -> str:
    """'zh', 'zh-Hans', 'zh-CN' → 'zh'; everything else → 'en'."""
    return "zh" if lang and lang.lower().startswith("zh") else "en"


def lang_key(tag: str | None) -> str | None:
    """The language a literal's tag belongs to ('en', 'zh'), or None for untagged or other tags."""
    if not tag:
        return None
    return "zh" if tag.lower().startswith("zh") else ("en" if tag.lower().startswith("en") else None)


def pick_label(labels: dict[str, str], lang: str) -> str | None:
    """The label in `lang`, else English, else Chinese, else any."""
    return labels.get(lang) or labels.get("en") or labels.get("zh") or next(iter(labels.values()), None)


def choose_lang(lang: str | None, accept_language: str | None) -> str:
    """`lang=` wins; otherwise the first language of Accept-Language we serve."""
    if lang:
        return normalise_lang(lang)
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith(("zh", "en")):
            return normalise_lang(tag)
    return "en"
