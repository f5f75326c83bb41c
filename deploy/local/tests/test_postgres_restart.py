"""The local PostgreSQL started again by the process that started it before (make chaos
kills the postmaster and starts it again)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from osb_local_infra.postgres import LocalPostgres
from osb_local_infra.settings import InfraSettings


def test_a_killed_server_is_started_again_by_the_same_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the server's runtime folder goes into the environment: this test's, not the session's
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    pg = LocalPostgres(InfraSettings(osb_run_dir=tmp_path))  # a server of its own
    assert pg.start()
    try:
        postmaster = int((pg.pgdata / "postmaster.pid").read_text().split()[0])
        os.kill(postmaster, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while pg.is_running() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not pg.is_running()
        assert pg.start()
        assert pg.is_running()
    finally:
        pg.stop()
