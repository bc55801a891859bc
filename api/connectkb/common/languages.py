"""The languages labels and messages come in, and how a request picks one: English ('en'), Simplified
Chinese ('zh', tagged @zh-Hans in the KB) and Traditional Chinese ('zh-Hant', as Hong Kong reads it)."""

from __future__ import annotations

LANGUAGES = ("en", "zh", "zh-Hant")
# where a literal lacks the language asked for: Traditional falls back to Simplified, then English
FALLBACK = {"en": ("en", "zh", "zh-Hant"), "zh": ("zh", "en", "zh-Hant"), "zh-Hant": ("zh-Hant", "zh", "en")}
_TRADITIONAL_REGIONS = ("hk", "tw", "mo")
# the message of a criterion whose input facts are not given (both engines, the timeline)
MISSING_FACT = {"en": "missing fact: ", "zh": "缺少事实：", "zh-Hant": "缺少事實："}


def _traditional(tag: str) -> bool:
    """zh-Hant, zh-HK, zh-TW, zh-MO (and zh-Hant-HK…); an explicit Hans script wins over the region."""
    parts = tag.lower().replace("_", "-").split("-")
    return "hans" not in parts and ("hant" in parts or any(p in _TRADITIONAL_REGIONS for p in parts[1:]))


def normalise_lang(lang: str | None) -> str:
    """'zh-Hant', 'zh-HK', 'zh-TW', 'zh-MO' → 'zh-Hant'; 'zh', 'zh-Hans', 'zh-CN' → 'zh'; everything else → 'en'."""
    if not lang or not lang.lower().startswith("zh"):
        return "en"
    return "zh-Hant" if _traditional(lang) else "zh"


def lang_key(tag: str | None) -> str | None:
    """The language a literal's tag belongs to ('en', 'zh', 'zh-Hant'), or None for untagged or other tags."""
    if not tag:
        return None
    if tag.lower().startswith("zh"):
        return "zh-Hant" if _traditional(tag) else "zh"
    return "en" if tag.lower().startswith("en") else None


def pick_label(labels: dict[str, str], lang: str) -> str | None:
    """The label in `lang`, else its fallbacks (zh-Hant → zh → en; en → zh), else any."""
    for key in FALLBACK.get(lang, FALLBACK["en"]):
        if labels.get(key):
            return labels[key]
    return next(iter(labels.values()), None)


def choose_lang(lang: str | None, accept_language: str | None) -> str:
    """`lang=` wins; otherwise the Accept-Language range we serve with the highest q (RFC 9110 §12.5.4),
    the earlier on a tie; q=0 means "not this one"."""
    if lang:
        return normalise_lang(lang)
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            if param.lower().startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        if q > 0 and tag.lower().startswith(("zh", "en")):
            ranked.append((-q, position, tag.lower()))
    return normalise_lang(min(ranked)[2]) if ranked else "en"
