"""tap-zoho-bulkread-auth exchanges a Self Client's grant code against the emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from zoho_bulkread_emulator import Emulator

AUTH = [sys.executable, "-m", "tap_zoho_bulkread.credentials"]
SECRET = "emulator-client-secret"


def grant_code(url: str, seconds: float = 180) -> str:
    answer = requests.post(f"{url}/__emulator__/grant_code", json={"seconds": seconds}, timeout=10)
    return answer.json()["code"]  # type: ignore[no-any-return]


def auth(url: str, code: str, *, client_id: str = "emulator-client-id", secret: str = SECRET):
    env = {**os.environ, "ZOHO_CLIENT_SECRET": secret}
    return subprocess.run(
        [*AUTH, "--client-id", client_id, "--code", code, "--accounts-url", url],
        capture_output=True, text=True, env=env, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_a_grant_code_becomes_a_refresh_token_that_the_tap_can_use(tmp_path: Path) -> None:
    with Emulator(job_seconds=0.0) as emu:
        result = auth(emu.url, grant_code(emu.url))
        found = json.loads(result.stdout)
        token = requests.post(
            f"{emu.url}/oauth/v2/token",
            params={"grant_type": "refresh_token", "client_id": "emulator-client-id",
                    "client_secret": SECRET, "refresh_token": found["refresh_token"]},
            timeout=10,
        ).json()  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert found["api_domain"] == emu.url and found["refresh_token"] == "emulator-refresh-token"
    assert "access_token" in token
    assert SECRET not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("used", "already used"),
        ("expired", "has expired"),
        ("wrong-secret", "client secret does not belong"),
        ("wrong-client", "does not know the client id"),
    ],
)
def test_each_refusal_is_one_line_naming_the_fix(case: str, expected: str) -> None:
    with Emulator(job_seconds=0.0) as emu:
        code = grant_code(emu.url, seconds=0.01 if case == "expired" else 180)
        if case == "used":
            assert auth(emu.url, code).returncode == 0
        result = auth(
            emu.url,
            code,
            secret="wrong-secret" if case == "wrong-secret" else SECRET,
            client_id="someone-else" if case == "wrong-client" else "emulator-client-id",
        )
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], lines
    assert "Traceback" not in result.stderr and "wrong-secret" not in result.stderr


def test_a_wrong_data_center_that_cannot_be_reached_is_one_line() -> None:
    result = auth("http://127.0.0.1:9", "1000.x.y")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "tap-zoho-bulkread-auth: cannot reach 127.0.0.1:9: the connection was refused"
    )


def test_no_secret_and_no_terminal_is_one_line_naming_both_ways_to_give_it() -> None:
    env = {k: v for k, v in os.environ.items() if k != "ZOHO_CLIENT_SECRET"}
    result = subprocess.run(
        [*AUTH, "--client-id", "emulator-client-id", "--code", "1000.x.y"],
        capture_output=True, text=True, env=env, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "set ZOHO_CLIENT_SECRET" in lines[0], lines
    assert "Traceback" not in result.stderr and "echoed" not in result.stderr


def test_after_an_emulator_login_the_hint_names_accounts_url() -> None:
    with Emulator(job_seconds=0.0) as emu:
        result = auth(emu.url, grant_code(emu.url))
    assert result.returncode == 0, result.stderr
    assert f"accounts_url to {emu.url}" in result.stderr and "data_center" not in result.stderr
