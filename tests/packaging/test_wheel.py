"""A regular (non-editable) install works: the wheel carries the template, the catalog's site files and the
demo proposals, and every command runs from it with the source checkout nowhere on the path.

The wheel is built from a copy of the checkout (so no ``build/`` or stale files land in the shared tree) and
installed into a fresh venv that sees the dependencies of the test interpreter through a ``.pth`` line. That
line adds the directory only: its own ``.pth`` files, among them an editable install's finder, are not run,
so ``import registry`` can only find the wheel's copy — which the test asserts.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import tomllib
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
# Top-level entries of the checkout the build does not need (and that may be large or in flux).
NOT_COPIED = {".git", ".venv", "tests", "build", "dist", "demo-registry", ".pytest_cache", ".hypothesis"}


def _python_packages() -> set[str]:
    """Every importable package of the checkout's code directories (a directory with ``__init__.py``)."""
    found = set()
    for top in ("registry", "builder", "server", "cli"):
        for init in (ROOT / top).rglob("__init__.py"):
            if "__pycache__" not in init.parts:
                found.add(".".join(init.parent.relative_to(ROOT).parts))
    return found


def test_pyproject_lists_every_package_and_maps_existing_data_directories():
    """Packages are listed by hand in pyproject.toml; a package left out would be missing from the wheel."""
    listed = set(PYPROJECT["packages"])
    assert _python_packages() <= listed, f"add to [tool.setuptools] packages: {_python_packages() - listed}"
    for package, directory in PYPROJECT["package-dir"].items():
        assert package in listed and (ROOT / directory).is_dir(), (package, directory)


def _data_files(directory: Path) -> set[str]:
    return {p.relative_to(directory).as_posix() for p in directory.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


def _run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 120) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """``(wheel, venv, env)``: the wheel built from a copy of the checkout and installed into a fresh venv."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"

    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped = {n for n in names if n == "__pycache__" or n.endswith(".egg-info")}
        return skipped | (NOT_COPIED & set(names) if Path(directory) == ROOT else set())

    shutil.copytree(ROOT, source, ignore=ignore)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
          "-w", str(tmp / "dist"), str(source)], tmp, env, timeout=180)
    wheel = next((tmp / "dist").glob("llm_schema_registry-*.whl"))

    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True, env=env).stdout.strip()
    dependencies = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(purelib, "_test_dependencies.pth").write_text("".join(f"{d}\n" for d in sorted(dependencies)))
    _run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], tmp, env)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return wheel, venv, env


@pytest.mark.slow
def test_wheel_carries_the_template_site_files_and_demo_proposals(installed):
    wheel, _, _ = installed
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for checkout, packaged in (("registry_repo_template", "repo_template"), ("site", "site"),
                               ("demo/proposals", "demo_proposals")):
        expected = {f"registry/_bundled/{packaged}/{f}" for f in _data_files(ROOT / checkout)}
        assert expected and expected <= names, f"missing from the wheel: {sorted(expected - names)[:5]}"
    assert "registry/_bundled/repo_template/.github/workflows/check.yml" in names   # hidden files too


@pytest.mark.slow
def test_installed_commands_run_without_the_checkout(installed, tmp_path):
    _, venv, env = installed
    where = _run([str(venv / "bin" / "python"), "-c",
                  "import registry, builder, cli, server, registry.bundled as b; "
                  "print(registry.__file__, builder.__file__, cli.__file__, server.__file__, "
                  "b.REPO_TEMPLATE, b.CATALOG_SITE, b.DEMO_PROPOSALS)"], tmp_path, env).split()
    for path in where:
        assert Path(path).resolve().is_relative_to(venv.resolve()), f"{path} is not from the installed wheel"
        assert not Path(path).resolve().is_relative_to(ROOT), path

    output = _run(["llm-registry", "demo", "--dir", "demo", "--no-serve"], tmp_path, env)
    assert "refused it, as expected" in output
    demo = tmp_path / "demo"
    assert (demo / "registry" / ".github" / "workflows" / "check.yml").is_file()     # init copied the template
    assert (demo / "registry" / "subjects" / "security.guardrail-verdict").is_dir()  # a proposal was merged
    assert (demo / "catalog" / "assets" / "catalog" / "catalog.js").is_file()         # site assets reached it
    assert "telemetry.inference" in (demo / "catalog" / "subjects" / "telemetry.inference.html").read_text()
    assert (demo / "api").is_dir() and any((demo / "api").iterdir())

    port = free_port()
    log = open(tmp_path / "serve.log", "w+")
    server = subprocess.Popen(
        ["llm-registry", "serve", "--repo", str(demo / "registry"), "--catalog", str(demo / "catalog"),
         "--bind", f"127.0.0.1:{port}", "--metrics-bind", f"127.0.0.1:{port}", "--workers", "1",
         "--grpc-bind", f"127.0.0.1:{free_port()}"],   # serve stops when the wheel's gRPC stubs do not load
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/subjects", timeout=5) as response:
                    subjects = response.read().decode()
                break
            except OSError:
                assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.3)
        assert "security.guardrail-verdict" in subjects
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/catalog/", timeout=5) as response:
            assert b"telemetry.inference" in response.read()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
