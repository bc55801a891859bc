"""One canonical text per query, so that the text the guard checks is the text the store runs.

rdflib (which the guard parses with) and Oxigraph (which runs the query) do not lex SPARQL alike:
Oxigraph ends a `#` comment at `\\r` as well as `\\n`, rdflib only at `\\n`; rdflib decodes `\\uXXXX`
escapes everywhere, Oxigraph only inside strings. Each such difference lets a query show one engine
something the other does not see (a `#…\\r` comment once hid a SERVICE from the guard). Rather
than chase every difference, this lexer rewrites the query into a text on which they cannot differ,
and that canonical text is both what the guard parses and the only text any worker executes:

- SPARQL codepoint escapes (`\\uXXXX`, `\\U00XXXXXX`) are decoded first, as SPARQL 1.1 §19.2 says;
  a text that still holds `\\u` or `\\U` afterwards (a double escape, which one engine would decode
  twice and the other once, or a literal backslash-u) is refused: no engine is left anything to decode.
- every comment becomes a single `\\n`, whichever of `\\n \\r \\x0b \\x0c \\x85 \\u2028 \\u2029` ends it
  (ending it at more characters than the grammar is safe: what follows is code in the canonical text,
  so both engines see it and the guard checks it);
- outside strings and IRIs, any character Python calls whitespace becomes a plain space, except `\\n`,
  which stays so that error positions keep their line numbers (`\\n` is the line end every engine
  agrees on);
- strings, IRIs and `\\`-escapes in local names are kept verbatim. The lexer is strict where the
  grammar is (a short string may not span a line end, an escape must be one of SPARQL's), and refuses
  what it cannot read, so that it never takes as string or IRI what an engine reads as code. One case
  is left on purpose: `?a<?b&&?b>?c` lexes as an IRIREF here, while an engine reads an operator. That
  span can hold no SERVICE pattern — an IRIREF holds no space, `<`, `>`, `{` or `}`, and SERVICE must
  be followed by an IRI or variable and then `{` — and rdflib's parse tree is checked besides.

The same pass yields the token stream on which the guard's second, independent check runs: a bare
keyword `SERVICE` anywhere outside strings and IRIs is refused, whatever the parse tree says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import Refused

COMMENT_ENDS = frozenset("\n\r\x0b\x0c\x85\u2028\u2029")
_CODEPOINT = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_LEFT_ESCAPE = re.compile(r"\\[uU]")
# SPARQL 1.1 grammar [139] IRIREF; a `<` that does not open one is an operator
_IRIREF = re.compile(r"<[^<>\"{}|^`\\\x00-\x20]*>")
_ECHAR = frozenset("tbnrf\"'\\")
_PN_LOCAL_ESC = frozenset("_~.-!$&'()*+,;=/?#@%")
_NAME_EXTRA = frozenset("_-.:%\u00b7")


def _name_char(ch: str) -> bool:
    """A character of a prefixed name, keyword, number or variable name (PN_CHARS and friends)."""
    return ch.isalnum() or ch in _NAME_EXTRA or "\u0300" <= ch <= "\u036f" or ch in "\u203f\u2040"


@dataclass(frozen=True)
class Canonical:
    text: str
    names: tuple[str, ...]  # keywords, prefixed names and numbers, in order; never variables, strings or IRIs


def decode_codepoints(text: str) -> str:
    """SPARQL 1.1 §19.2: `\\u` and `\\U` escapes are replaced before the text is parsed."""

    def replace(match: re.Match[str]) -> str:
        value = int(match.group(1) or match.group(2), 16)
        if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
            raise Refused(400, f"the query has an invalid codepoint escape {match.group(0)}")
        return chr(value)

    decoded = _CODEPOINT.sub(replace, text)
    left = _LEFT_ESCAPE.search(decoded)
    if left:
        raise Refused(400, "the query holds '\\u' or '\\U' that is not a single codepoint escape "
                           f"(at character {left.start()} once escapes are decoded); write the character itself")
    return decoded


def _string_end(text: str, start: int) -> int:
    """The index just past the string literal that opens at `start` (SPARQL grammar [156]-[159])."""
    quote = text[start]
    long = text.startswith(quote * 3, start)
    i = start + (3 if long else 1)
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            if i + 1 >= len(text) or text[i + 1] not in _ECHAR:
                raise Refused(400, f"the query has an invalid escape in a string at character {i}: "
                                   "SPARQL allows \\t \\b \\n \\r \\f \\\" \\' \\\\ and \\uXXXX")
            i += 2
            continue
        if long:
            if text.startswith(quote * 3, i):
                return i + 3
        elif ch == quote:
            return i + 1
        elif ch in "\n\r":
            raise Refused(400, f"the query has a line end inside a short string at character {i}: "
                               "use a long string (\"\"\"…\"\"\") or \\n")
        i += 1
    raise Refused(400, f"the query has a string opened at character {start} that is never closed")


# SPARQL 1.1 grammar [164] PN_CHARS_BASE, beyond ASCII letters
_PN_CHARS_BASE_RANGES = ((0xC0, 0xD6), (0xD8, 0xF6), (0xF8, 0x2FF), (0x370, 0x37D), (0x37F, 0x1FFF), (0x200C, 0x200D),
                         (0x2070, 0x218F), (0x2C00, 0x2FEF), (0x3001, 0xD7FF), (0xF900, 0xFDCF), (0xFDF0, 0xFFFD),
                         (0x10000, 0xEFFFF))


def _varname_char(ch: str) -> bool:
    """A character of VARNAME ([166]), exactly: a variable ends where the grammar ends it, so that
    nothing an engine reads as code after a variable is taken for part of its name."""
    if ch.isascii():
        return ch.isalnum() or ch == "_"
    code = ord(ch)
    return (code == 0xB7 or 0x300 <= code <= 0x36F or code in (0x203F, 0x2040)
            or any(low <= code <= high for low, high in _PN_CHARS_BASE_RANGES))


def _var_end(text: str, start: int) -> int:
    """The index just past a variable's name."""
    i = start
    while i < len(text) and _varname_char(text[i]):
        i += 1
    return i


def _name_end(text: str, start: int) -> int:
    """The index just past the name (keyword, prefixed name, number) that starts at `start`."""
    i = start
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in _PN_LOCAL_ESC:
            i += 2  # PN_LOCAL_ESC: `ex:a\#b` is one name, its `#` no comment
        elif _name_char(ch):
            i += 1
        else:
            break
    return i


def canonicalize(text: str) -> Canonical:
    """The canonical text of `text` and its names; raise Refused(400) on what cannot be lexed safely."""
    source = decode_codepoints(text)
    out: list[str] = []
    names: list[str] = []
    i = 0
    n = len(source)
    while i < n:
        ch = source[i]
        if ch == "#":
            while i < n and source[i] not in COMMENT_ENDS:
                i += 1
            out.append("\n")
            i += 1  # the line end is part of the comment: it was replaced by the `\n` above
        elif ch in "\"'":
            end = _string_end(source, i)
            out.append(source[i:end])
            i = end
        elif ch == "<" and (iri := _IRIREF.match(source, i)):
            out.append(iri.group(0))
            i = iri.end()
        elif ch in "?$":
            end = _var_end(source, i + 1)
            out.append(source[i:end])  # a variable: never a keyword, whatever its name
            i = end
        elif ch.isalnum() or ch in "_:":  # what a keyword, number or prefixed name can start with
            end = _name_end(source, i)
            names.append(source[i:end])
            out.append(source[i:end])
            i = end
        elif ch == "\n":
            out.append("\n")
            i += 1
        elif ch.isspace():
            out.append(" ")
            i += 1
        else:
            out.append(ch)
            i += 1
    return Canonical(text="".join(out), names=tuple(names))


def names_service(name: str) -> bool:
    """Whether a name token may hold the keyword SERVICE as an engine could read it.

    Oxigraph's parser needs no boundary after a token: it reads `1SERVICE <x> {…}` as `1 SERVICE …`,
    `SERVICE:a {…}` as SERVICE with the IRI `:a`, and `SERVICEex:a` as SERVICE `ex:a`. So a name is
    refused when the part before its first colon (all of it, without a colon) contains `service`
    anywhere, and when any piece of its local part after a `.` does (`ex:o.SERVICE`: the grammar munches
    it whole, but no lexer is trusted to). Variables are not names here, and `ex:service`, `ex:services`
    pass; the price is that a prefix such as `service:` or `webservice:` is refused too. casefold()
    catches spellings such as `ſERVICE` that a Unicode-aware matcher might take for SERVICE."""
    folded = name.casefold()
    head, colon, local = folded.partition(":")
    pieces = [head, *local.split(".")[1:]] if colon else [head]
    return any("service" in piece for piece in pieces)


def refuse_service_keyword(canonical: Canonical) -> None:
    """The lexical check, independent of any parser: no SERVICE keyword anywhere in the query."""
    for name in canonical.names:
        if names_service(name):
            raise Refused(403, "SERVICE is refused: this endpoint makes no outbound requests")
