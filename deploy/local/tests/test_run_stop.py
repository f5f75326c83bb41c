"""``make run``'s stop: the infrastructure is stopped even when the terminal is gone."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
from osb_local_infra import run as run_module
from osb_local_infra.infra import Infra


def test_ctrl_c_with_the_output_piped_to_a_dead_tee_still_stops_kafka_and_postgres(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``make run | tee run.log`` and Ctrl-C: tee is gone, writing raises BrokenPipeError."""
    stopped: list[Any] = []
    infra = Infra("localhost:9092", {}, started=["kafka", "postgres"])
    monkeypatch.setattr(run_module.local_infra, "up", lambda settings: infra)
    monkeypatch.setattr(
        run_module.local_infra,
        "down",
        lambda settings, only: stopped.append(only) or list(only),
    )
    monkeypatch.setattr(run_module, "local_secrets", lambda settings: {})
    monkeypatch.setenv("OSB_RUN_DIR", str(tmp_path))
    terminal_gone = False

    def say(line: str) -> None:
        nonlocal terminal_gone
        if terminal_gone:
            raise BrokenPipeError(32, "Broken pipe")
        if line == "Ctrl-C stops everything.":
            terminal_gone = True  # Ctrl-C: tee ends with everything else
            os.kill(os.getpid(), signal.SIGINT)

    before = signal.getsignal(signal.SIGINT)
    assert run_module.run(say, only=[]) == 0
    assert stopped == [["kafka", "postgres"]]
    assert signal.getsignal(signal.SIGINT) is before  # the handlers given back
