"""The weighting algorithms, pure and exact: amounts in, weights out as Fractions, so that a cap read
from the KB binds exactly at its value and the weights of a complete index sum to exactly one. They know the
*kinds* of weighting (proportional, equal, capped, top-k selection); every parameter (cap, target, how
many, which order, whether a redistribution repeats) is an argument the methodology read from the KB."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction


def proportional(amounts: Mapping[str, Fraction], total: Fraction) -> dict[str, Fraction]:
    """`total` shared in proportion to each bond's amount (market value, outstanding principal)."""
    whole = sum(amounts.values(), Fraction(0))
    if whole <= 0:
        raise ValueError("proportional weights need a positive sum of amounts")
    return {bond: total * amount / whole for bond, amount in amounts.items()}


def equal(bonds: Sequence[str], total: Fraction) -> dict[str, Fraction]:
    """`total` shared equally."""
    return {bond: total / len(bonds) for bond in bonds} if bonds else {}


@dataclass
class Capped:
    weights: dict[str, Fraction]
    capped: list[str] = field(default_factory=list)  # bonds held at the cap
    unassigned: Fraction = Fraction(0)  # weight no bond could take under the cap
    rounds: int = 0


def cap(weights: Mapping[str, Fraction], limit: Fraction, repeat: bool) -> Capped:
    """Hold every weight above `limit` at it and share the excess among the bonds under it, in proportion
    to their weights. With `repeat`, again while that lifts another above the limit; without, once.
    Weight that no bond under the limit can take (all are at it) is left unassigned."""
    out = dict(weights)
    held: set[str] = set()
    unassigned = Fraction(0)
    rounds = 0
    while True:
        over = [b for b, w in out.items() if b not in held and w > limit]
        if not over:
            break
        rounds += 1
        excess = sum((out[b] - limit for b in over), Fraction(0))
        for b in over:
            out[b] = limit
            held.add(b)
        free = [b for b in out if b not in held]
        free_total = sum((out[b] for b in free), Fraction(0))
        if free_total <= 0:
            unassigned += excess
            break
        for b in free:
            out[b] += excess * out[b] / free_total
        if not repeat:
            break
    return Capped(out, sorted(held), unassigned, rounds)


@dataclass
class Selection:
    chosen: list[str]
    left_out: list[str]
    tied: list[str] = field(default_factory=list)  # equal on every key across the last place: undecided
    missing: dict[str, int] = field(default_factory=dict)  # bond → the key (index) it lacks that decides its place


def top(bonds: Mapping[str, Sequence[Fraction | None]], k: int, largest_first: Sequence[bool]) -> Selection:
    """The `k` bonds ranked first on the keys in turn (each key ranked largest or smallest first); a
    later key is read only where the earlier ones tie across the k-th place. A bond lacking a key that
    decides whether it is chosen is `missing` it; bonds equal on every key across that place are `tied`."""
    names = sorted(bonds)
    if len(names) <= k:
        return Selection(names, [])
    return _split(names, bonds, k, 0, largest_first)


def _split(names: list[str], bonds: Mapping[str, Sequence[Fraction | None]], k: int, key: int,
           largest_first: Sequence[bool]) -> Selection:
    if k <= 0:
        return Selection([], names)
    if k >= len(names):
        return Selection(names, [])
    if key >= len(largest_first):
        return Selection([], [], tied=names)
    lacking = [b for b in names if bonds[b][key] is None]
    if lacking:
        return Selection([], [], missing=dict.fromkeys(lacking, key))
    sign = -1 if largest_first[key] else 1
    ranked = sorted(names, key=lambda b: (sign * bonds[b][key], b))  # type: ignore[operator]
    boundary = bonds[ranked[k - 1]][key]
    above = [b for b in ranked if sign * bonds[b][key] < sign * boundary]  # type: ignore[operator]
    level = [b for b in ranked if bonds[b][key] == boundary]
    below = [b for b in ranked if sign * bonds[b][key] > sign * boundary]  # type: ignore[operator]
    if len(above) + len(level) == k:
        return Selection(above + level, below)
    inner = _split(level, bonds, k - len(above), key + 1, largest_first)
    return Selection(above + inner.chosen, inner.left_out + below, inner.tied, inner.missing)
