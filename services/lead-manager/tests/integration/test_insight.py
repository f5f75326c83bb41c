"""The branch figures (Auswertung) from lead events on the real broker and database: a
seeded history counted by hand, the CSV, and the read model rebuilt from the topic's
beginning giving the same figures."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from lead_manager.adapters.insight import rebuild
from lead_manager.domain.permissions import Permission
from lead_manager.entrypoints.auth import issue_token
from osb_platform import make_broker
from osb_platform.db import make_engine
from osb_testing.insight import (
    EXPECTED_CHOICES,
    EXPECTED_DAYS,
    EXPECTED_MONDAY_DECISIONS,
    EXPECTED_REASONS,
    EXPECTED_TOTAL,
    FIRST_DAY,
    LAST_DAY,
    publish_history,
    seeded_history,
    wait_projected,
)
from prometheus_client import REGISTRY

pytestmark = pytest.mark.integration

JWT_SECRET = "test-secret-of-at-least-32-characters!"
PERIOD = {"day_from": FIRST_DAY, "day_to": LAST_DAY}


def bearer(branch: str, *permissions: Permission) -> dict[str, str]:
    token = issue_token(JWT_SECRET, user="lea", name="Lea", branches={branch: permissions})
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def http(lead_manager_client: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with lead_manager_client(f"lead-manager-insight-{uuid.uuid4().hex[:8]}") as client:
        yield client


def _without_zeros(day: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v for k, v in day.items() if v and k not in ("day", "decision_median", "decision_p90")
    }


@pytest.mark.timeout(900)  # reads the whole topic twice, however long its history
async def test_figures_of_a_seeded_history_and_the_same_after_a_rebuild(
    http: httpx.AsyncClient, kafka_bootstrap_servers: str, database_urls: dict[str, str]
) -> None:
    branch = f"AW-{uuid.uuid4().hex[:6]}"
    bus = make_broker(kafka_bootstrap_servers, client_id="test-insight")
    await bus.start()
    try:
        await publish_history(bus, seeded_history(branch))
    finally:
        await bus.stop()
    database_url = database_urls["lead-manager"]
    await wait_projected(kafka_bootstrap_servers, database_url)

    advisor = bearer(branch, Permission.LEAD_MANAGER)
    url = f"/api/v1/branches/{branch}/insight"
    r = await http.get(url, params=PERIOD, headers=advisor)
    assert r.status_code == 200, r.text
    figures = r.json()
    assert {k: figures["total"][k] for k in EXPECTED_TOTAL} == EXPECTED_TOTAL
    assert [d["day"] for d in figures["days"]] == list(EXPECTED_DAYS)
    assert {d["day"]: _without_zeros(d) for d in figures["days"]} == EXPECTED_DAYS
    monday = figures["days"][0]
    assert (monday["decision_median"], monday["decision_p90"]) == EXPECTED_MONDAY_DECISIONS
    assert figures["reasons"] == EXPECTED_REASONS
    assert figures["choices"] == EXPECTED_CHOICES

    # the day after alone: lead 7, scheduled as a cash sale half an hour after it came in
    after = (
        await http.get(
            url, params={"day_from": "2026-11-05", "day_to": "2026-11-05"}, headers=advisor
        )
    ).json()
    assert (after["total"]["received"], after["total"]["scheduled"]) == (1, 1)
    assert after["total"]["decision_median"] == 30.0
    assert after["choices"] == {"CASH_SALE": 1}

    r = await http.get(f"{url}.csv", params=PERIOD, headers=advisor)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert r.text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(r.text.removeprefix("\ufeff")), delimiter=";"))
    assert rows[0][:3] == ["Tag", "Eingegangen", "Geplant"]
    assert [row[0] for row in rows[1:]] == ["02.11.2026", "03.11.2026", "04.11.2026", "Summe"]
    assert rows[-1][1] == "6"
    heading = rows[0].index("Entscheidung nach, Median (Std.)")
    assert (rows[1][heading], rows[-1][heading]) == ("1,50", "4,00")  # 90 and 240 minutes

    applied = REGISTRY.get_sample_value("osb_lead_manager_insight_events_total") or 0.0
    engine = make_engine(database_url, pool_size=1)
    try:
        await rebuild(engine)
    finally:
        await engine.dispose()
    await wait_projected(kafka_bootstrap_servers, database_url)
    rebuilt = (await http.get(url, params=PERIOD, headers=advisor)).json()
    assert rebuilt == figures
    # read again from the topic's beginning: this history and whatever came before it
    again = (REGISTRY.get_sample_value("osb_lead_manager_insight_events_total") or 0.0) - applied
    assert again >= len(seeded_history(branch))


async def test_who_may_see_the_figures_and_which_periods(http: httpx.AsyncClient) -> None:
    branch = f"AW-{uuid.uuid4().hex[:6]}"
    url = f"/api/v1/branches/{branch}/insight"
    assert (await http.get(url, params=PERIOD)).status_code == 401
    other = bearer("SOMEWHERE-ELSE", Permission.LEAD_MANAGER)
    r = await http.get(url, params=PERIOD, headers=other)
    assert r.status_code == 403
    assert r.json()["code"] == "PERMISSION_MISSING"
    admin = bearer(branch, Permission.OSB_ADMIN)
    r = await http.get(url, params=PERIOD, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["total"]["received"] == 0
    assert len(r.json()["days"]) == 3
    backwards = {"day_from": LAST_DAY, "day_to": FIRST_DAY}
    r = await http.get(url, params=backwards, headers=admin)
    assert (r.status_code, r.json()["code"]) == (422, "PERIOD_INVALID")
    r = await http.get(
        url, params={"day_from": "2025-01-01", "day_to": "2026-01-02"}, headers=admin
    )
    assert (r.status_code, r.json()["code"]) == (422, "PERIOD_TOO_LONG")
    r = await http.get(url, params={"day_from": "02.11.2026"}, headers=admin)
    assert r.status_code == 422
    # without a period: the last 30 days up to today
    r = await http.get(url, headers=admin)
    assert r.status_code == 200
    assert len(r.json()["days"]) == 30
