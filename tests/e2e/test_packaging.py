"""The package as a user gets it: built, checked as PyPI checks it, installed in a clean venv."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run(*command: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(part) for part in command], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--no-isolation", "--outdir", out)
    return out


def archive_text(wheel: Path, suffix: str) -> str:
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(next(n for n in archive.namelist() if n.endswith(suffix))).decode()


@pytest.mark.slow
def test_the_wheel_and_sdist_pass_twine_check_and_carry_what_a_user_needs(dist: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    assert "PASSED" in run(BIN / "twine", "check", "--strict", wheel, sdist).stdout
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "tap_zoho_bulkread/py.typed" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "Version: 0.2.0" in metadata and "License-Expression: Apache-2.0" in metadata
    assert "Classifier: Typing :: Typed" in metadata
    assert "Provides-Extra: fast" in metadata
    assert "Provides-Extra: dev" not in metadata  # development tools are no published extra
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert not [r for r in requires if "pytest" in r or "pgserver" in r or "zohocrmsdk" in r]
    # the emulator is its own distribution (emulator/): not in the tap's wheel, nor its tzdata
    assert not [n for n in names if "emulator" in n], [n for n in names if "emulator" in n]
    assert not [r for r in requires if r.split()[1].startswith("tzdata")], requires
    entry_points = archive_text(wheel, "entry_points.txt")
    assert "tap-zoho-bulkread =" in entry_points and "emulator" not in entry_points
    assert any("pyarrow" in r and "extra == 'fast'" in r for r in requires), requires


@pytest.mark.slow
def test_the_wheel_installs_in_a_clean_venv_and_about_runs_without_pyarrow(
    dist: Path, tmp_path: Path
) -> None:
    (wheel,) = dist.glob("*.whl")
    venv = tmp_path / "venv"
    run(BIN / "uv", "venv", "--quiet", "--python", sys.executable, venv)
    run(BIN / "uv", "pip", "install", "--quiet", "--python", venv / "bin" / "python", wheel)
    about = json.loads(
        run(venv / "bin" / "tap-zoho-bulkread", "--about", "--format", "json").stdout
    )
    assert about["name"] == "tap-zoho-bulkread"
    assert {"batch", "activate-version", "state", "discover"} <= set(about["capabilities"])
    missing = subprocess.run(
        [venv / "bin" / "python", "-c", "import pyarrow"], capture_output=True, check=False
    )
    assert missing.returncode != 0  # the plain install has no pyarrow, and needs none


def test_about_and_version_do_not_import_pyarrow_even_when_it_is_installed() -> None:
    for flag in ("--about", "--version"):
        result = run(sys.executable, "-X", "importtime", "-m", "tap_zoho_bulkread.tap", flag)
        imported = [line for line in result.stderr.splitlines() if "pyarrow" in line]
        assert imported == [], imported[:3]


def test_meltano_yml_declares_every_capability_the_tap_reports() -> None:
    import yaml

    about = json.loads(run(BIN / "tap-zoho-bulkread", "--about", "--format", "json").stdout)
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    (tap,) = project["plugins"]["extractors"]
    assert set(about["capabilities"]) - {"structured-logging"} <= set(tap["capabilities"])
