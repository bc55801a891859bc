"""Index weights of invented bond universes (not facts): eligibility by the compiled rules, then the
index's weighting rule, for Market Vectors (market value, 22.5 % cap) and AlphaShares (four buckets),
in process. Prints seconds and bonds/s per size; nothing is asserted.

    python bench/run.py weights
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SIZES = (1_000, 10_000, 100_000)
AS_OF = dt.date(2025, 3, 1)
ISSUERS = [("central-government", "mainland"), ("chinese-government-agency", "mainland"),
           ("domestic-commercial-bank", "mainland"), ("supranational", "offshore"), ("foreign-corporate", "offshore")]


def universe(n: int, seed: int = 11) -> list[Any]:
    from connectkb.weights.service import Bond
    rng = random.Random(seed)
    bonds = []
    for i in range(n):
        issuer, domicile = rng.choice(ISSUERS)
        bonds.append(Bond(f"b{i}", {
            "residual_maturity_years": round(rng.uniform(0.2, 6), 2), "outstanding_cny": rng.randint(1, 30) * 10**9,
            "coupon_type": rng.choice(["fixed", "fixed", "fixed", "floating"]), "denomination_currency": "CNY",
            "settlement_currency": "CNY", "features": [], "issuer_type": issuer, "issuer_domicile": domicile,
            "issue_rating": {"agency": "moodys", "grade": rng.choice(["A2", "Baa3", "Ba1"])},
            "market_value_cny": rng.randint(1, 10**6) * 1000, "duration_years": rng.randint(1, 10**6) / 10**5}))
    return bonds


def weights(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(REPO / "api"))
    from connectkb.knowledge.entities import EntityService
    from connectkb.knowledge.load import load
    from connectkb.rules.compiled.engine import CompiledRules
    from connectkb.rules.engine import RulesEngine
    from connectkb.weights.service import WeightsService

    kb = load()
    entities = EntityService(kb.backend)
    rules = RulesEngine(kb.backend, entities.citations, entities.label_of)
    service = WeightsService(rules, CompiledRules(rules))
    for n in SIZES:
        bonds = universe(n)
        for index in ("index-market-vectors-rmb", "index-alphashares-rmb"):
            t0 = time.perf_counter()
            answer = service.weigh(index, bonds, AS_OF)
            seconds = time.perf_counter() - t0
            print(f"weights: {index}, {n} bonds ({answer['eligibility']['eligible']} eligible): {seconds:.2f}s, "
                  f"{n / seconds:,.0f} bonds/s; {answer['status']}, total weight {answer['total_weight']:.6f}")
