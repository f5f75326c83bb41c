"""With OSB_SECRETS_DIR, a service reads a secret from the file named like its variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROBE = (
    "from lead_manager.settings import Settings; s = Settings(); "
    "print(s.jwt_secret.get_secret_value(), s.database_url, repr(s.jwt_secret))"
)


def test_a_secret_comes_from_its_file_and_is_not_shown(tmp_path: Path) -> None:
    (tmp_path / "lead_manager_jwt_secret").write_text("from-a-file-" + "s" * 30)
    (tmp_path / "lead_manager_database_url").write_text("postgresql://osb:pw@db/lead_manager")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEAD_MANAGER_", "OSB_"))}
    shown = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**env, "OSB_SECRETS_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert shown == [
        "from-a-file-" + "s" * 30,
        "postgresql://osb:pw@db/lead_manager",
        "SecretStr('**********')",
    ]


def test_without_the_folder_the_environment_decides(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEAD_MANAGER_", "OSB_"))}
    env |= {"OSB_SECRETS_DIR": str(tmp_path / "missing"), "LEAD_MANAGER_JWT_SECRET": "e" * 32}
    shown = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert shown[0] == "e" * 32
