"""The wheel `pip install .` installs: it carries every seed file, template, static asset and JSON Schema,
and building it prints no setuptools packaging warning.

The build runs on a copy of the source tree (a build writes build/ and *.egg-info next to pyproject.toml).
It uses the environment's setuptools when that satisfies pyproject's build requirement (no network),
else pip's isolated build, which downloads setuptools; without a network that test is skipped, saying so.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TREE = ["pyproject.toml", "README.md", "LICENSE", "kb", "ingest", "schemas", "cli", "web", "seeds"]
OFFLINE = ("No matching distribution", "Could not find a version", "NewConnectionError", "Temporary failure in name resolution",
           "Network is unreachable", "connection broken", "ProxyError")


def _setuptools_suffices() -> bool:
    try:
        import setuptools
    except ImportError:
        return False
    required = re.search(r'"setuptools>=([\d.]+)"', (ROOT / "pyproject.toml").read_text()).group(1)
    as_tuple = lambda v: tuple(int(p) for p in re.findall(r"\d+", v)[:3])  # noqa: E731
    return as_tuple(setuptools.__version__) >= as_tuple(required)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[list[str], str]:
    """The wheel's file names and the build's output."""
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    for name in TREE:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            src.mkdir(exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    cmd = [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-cache-dir", "-w", str(work / "dist")]
    if _setuptools_suffices():
        cmd.append("--no-build-isolation")
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    if result.returncode != 0:
        if "--no-build-isolation" not in cmd and any(s in output for s in OFFLINE):
            pytest.skip("cannot build the wheel offline: this environment's setuptools is older than pyproject's "
                        "build requirement and pip cannot download one")
        pytest.fail(f"pip wheel failed:\n{output[-3000:]}")
    (wheel,) = (work / "dist").glob("biomarker_kb-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        return zf.namelist(), output


def _data_files() -> list[str]:
    """Every file the running code reads from the package directories, as wheel paths."""
    files = [p for p in (ROOT / "seeds").rglob("*") if p.is_file() and p.suffix != ".py"]
    files += list((ROOT / "schemas").glob("*.json"))
    files += [p for d in ("templates", "static") for p in (ROOT / "web" / "pages" / d).rglob("*") if p.is_file()]
    return sorted(p.relative_to(ROOT).as_posix() for p in files
                  if "__pycache__" not in p.parts and not p.name.startswith(".") and p.suffix != ".pyc")


def test_the_wheel_carries_every_data_file(built):
    names, _ = built
    expected = _data_files()
    assert {"seeds/sources.yaml", "seeds/vocabulary.yaml", "schemas/patient.schema.json",
            "web/pages/templates/base.html", "web/pages/static/style.css"} <= set(expected)
    assert any(n.startswith("seeds/papers/") for n in expected)
    assert any(n.startswith("seeds/curation/") for n in expected) and any(n.startswith("seeds/markers/") for n in expected)
    assert [n for n in expected if n not in names] == []


def test_the_wheel_carries_every_module(built):
    names, _ = built
    modules = sorted(p.relative_to(ROOT).as_posix() for package in ("kb", "ingest", "schemas", "cli", "web", "seeds")
                     for p in (ROOT / package).rglob("*.py") if "__pycache__" not in p.parts)
    assert [m for m in modules if m not in names] == []
    assert not any(n.startswith(("tests/", "benchmarks/", "docs/", "examples/")) for n in names)


def test_building_prints_no_packaging_warning(built):
    _, output = built
    assert "absent from the `packages` configuration" not in output
    assert "BuildBackendWarning" not in output and "SetuptoolsDeprecationWarning" not in output
