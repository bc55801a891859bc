"""Content negotiation (RFC 9110 §12.5.1), shared by every route that answers in several formats."""

from __future__ import annotations


def negotiate(accept: str | None, aliases: dict[str, str], preferred: list[str]) -> str | None:
    """The media type to answer with (RFC 9110 §12.5.1): for each type we offer, the most specific
    range of the Accept header that matches it gives its q; the highest q wins, then the more specific
    match, then the client's order, then ours. None when nothing acceptable is offered."""
    if not accept or not accept.strip():
        return preferred[0]
    ranges: list[tuple[str, float, int]] = []
    for position, part in enumerate(accept.split(",")):
        fields = [f.strip() for f in part.split(";")]
        q = 1.0
        for param in fields[1:]:
            if param.lower().startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        if fields[0]:
            ranges.append((fields[0].lower(), q, position))
    best: tuple[tuple[float, int, int, int], str] | None = None
    for rank, offered in enumerate(preferred):
        match: tuple[int, float, int] | None = None
        for media, q, position in ranges:
            if media == offered or aliases.get(media) == offered:
                specificity = 2
            elif media.endswith("/*") and media != "*/*" and offered.startswith(media[:-1]):
                specificity = 1
            elif media == "*/*":
                specificity = 0
            else:
                continue
            if match is None or specificity > match[0] or (specificity == match[0] and q > match[1]):
                match = (specificity, q, position)
        if match is None or match[1] <= 0:
            continue
        key = (match[1], match[0], -match[2], -rank)
        if best is None or key > best[0]:
            best = (key, offered)
    return best[1] if best else None
