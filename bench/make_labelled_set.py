"""Writes customer-matching's labelled check set (``make labelled-set``).

A small German set from ``german_identities`` under a seed of its own (neither the
benchmark's tuning seed nor its held-out one): masters, and leads of every failure class
with the master each belongs to (none for the hard negatives). customer-matching checks a
newly estimated model against it before adopting it (``customer_matching.service.model_check``).
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import german_identities as g

SEED = 3
OUT = (
    Path(__file__).resolve().parents[1]
    / "services/customer-matching/src/customer_matching/data/labelled.jsonl.gz"
)


def main() -> None:
    pop = g.population(3_000, SEED, prefix="C")
    lines = [
        json.dumps({"master": m.model_dump(mode="json", exclude_none=True)}, ensure_ascii=False)
        for m in pop.masters
    ]
    for lead in g.leads(pop, 40, SEED + 100):
        lines.append(
            json.dumps(
                {
                    "lead": lead.customer.model_dump(mode="json", exclude_none=True),
                    "class": lead.kind,
                    "truth": lead.truth,
                    "vehicle_owner": lead.vehicle_owner,
                },
                ensure_ascii=False,
            )
        )
    OUT.parent.mkdir(exist_ok=True)
    # mtime 0: the same set gives the same bytes
    with gzip.GzipFile(OUT, "wb", mtime=0) as out:
        out.write(("\n".join(lines) + "\n").encode())
    print(
        f"wrote {OUT.relative_to(Path.cwd())}: {len(pop.masters)} masters, {len(lines) - len(pop.masters)} leads"
    )


if __name__ == "__main__":
    main()
