"""The distribution's top-level packages: the `config` package the layout promises is ours, in the wheel and at run
time, and another `config` found first on the path stops `dispatch` with a clear message rather than a wrong setting."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from setuptools.config.setupcfg import read_configuration

import config

ROOT = Path(__file__).resolve().parents[1]
SHADOWED = "Le module « config » chargé"


def _declared() -> dict[str, object]:
    """Return setup.cfg as setuptools reads it to build the wheel (its packages found, offline)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # setuptools' own deprecation notices
        return dict(read_configuration(str(ROOT / "setup.cfg"), ignore_option_errors=False)["options"])


def test_the_wheel_installs_our_three_top_level_packages_and_config_is_ours() -> None:
    packages = list(_declared()["packages"])  # type: ignore[call-overload]
    assert sorted({name.split(".")[0] for name in packages}) == ["config", "dispatch", "mobile_api"]
    assert "config" in packages and (ROOT / "config" / "__init__.py").is_file()
    assert config.DISTRIBUTION == "snp-dispatch"  # the mark dispatch checks at start-up
    assert Path(config.__file__).resolve().is_relative_to(ROOT)


def test_no_other_installed_distribution_provides_a_top_level_config() -> None:
    providers = importlib.metadata.packages_distributions().get("config", [])
    assert set(providers) <= {"snp-dispatch"}


def test_tzdata_is_a_dependency() -> None:
    """zoneinfo needs a time-zone database; slim images and Windows have none of their own."""
    requirements = [str(line) for line in _declared()["install_requires"]]  # type: ignore[attr-defined]
    assert any(line.split(">")[0].split("=")[0].strip().lower() == "tzdata" for line in requirements)


@pytest.mark.parametrize("shadow", ["module", "package"])
def test_another_config_first_on_the_path_stops_dispatch_with_a_clear_message(tmp_path: Path, shadow: str) -> None:
    """A config.py in the current folder, or a config/ package with a settings module (a Django project's), is refused."""
    if shadow == "module":
        (tmp_path / "config.py").write_text("DEBUG = True\n", encoding="utf-8")
    else:
        (tmp_path / "config").mkdir()
        (tmp_path / "config" / "__init__.py").write_text("", encoding="utf-8")
        (tmp_path / "config" / "settings.py").write_text("DEBUG = True\n", encoding="utf-8")
    # The current folder comes first on the path of `python -c` (and of gunicorn): the stranger shadows ours.
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-c", "import dispatch.cli"]
    assert subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, timeout=60).returncode == 0  # ours alone: fine
    result = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith(f"ImportError: {SHADOWED} ({tmp_path / 'config'}")
    assert "Renommez-le, ou lancez dispatch depuis un autre dossier." in message
