"""The Dockerfile, through scripts/check-dockerfile (no Docker engine here)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

CHECK = ROOT / "scripts" / "check-dockerfile"


def check(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHECK), *args], capture_output=True, text=True, timeout=300)


def release_binary() -> str | None:
    """A static-stdlib release build: SLUICE_RELEASE_BIN, or SLUICE_BIN when it is one."""
    for name in ("SLUICE_RELEASE_BIN", "SLUICE_BIN"):
        path = os.environ.get(name)
        if path and Path(path).is_file():
            libraries = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
            if "libswiftCore" not in libraries and "/release/" in os.path.realpath(path):
                return path
    return None


def test_structure_and_hadolint():
    result = check("--static-only")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 failed" in result.stdout
    if shutil.which("hadolint"):
        assert "ok   hadolint passes" in result.stdout
    else:
        assert "SKIP hadolint" in result.stdout


@pytest.mark.parametrize("edit, failure", [
    (("USER 10001:10001\n", ""), "runtime stage runs as a non-root USER"),
    (('"http://127.0.0.1:8080/health"]', '"http://127.0.0.1:8080/"]'), "HEALTHCHECK requests /health"),
    (("STOPSIGNAL SIGTERM", "STOPSIGNAL SIGKILL"), "STOPSIGNAL SIGTERM"),
    (("--static-swift-stdlib \\\n", "\\\n"), "--static-swift-stdlib"),
    (("        libzstd-dev \\\n", ""), "build stage installs exactly"),
    (('VOLUME ["/var/lib/sluice"]', 'VOLUME ["/data"]'), "journal.path of deploy/sluice.yaml lies in a VOLUME"),
    (("        curl \\\n", ""), "HEALTHCHECK tool is installed"),
])
def test_checker_rejects_a_broken_dockerfile(tmp_path, edit, failure):
    original = (ROOT / "Dockerfile").read_text()
    assert edit[0] in original
    broken = tmp_path / "Dockerfile"
    broken.write_text(original.replace(edit[0], edit[1], 1))
    result = check("--static-only", "--no-hadolint", "--dockerfile", str(broken))
    assert result.returncode == 1
    assert any(line.startswith("FAIL") and failure in line for line in result.stdout.splitlines()), result.stdout


@pytest.fixture(scope="module")
def binary() -> str:
    path = release_binary()
    if path is None:
        if os.environ.get("SLUICE_REQUIRE_RELEASE_BIN") == "1":
            pytest.fail("SLUICE_RELEASE_BIN must name a `swift build -c release --static-swift-stdlib` sluice")
        pytest.skip("no static-stdlib release build of sluice (set SLUICE_RELEASE_BIN, or run scripts/check-dockerfile --build)")
    return path


def test_runtime_packages_are_what_ldd_needs(binary):
    result = check("--binary", binary, "--no-hadolint")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok   runtime packages are exactly" in result.stdout
    assert "ok   the Swift runtime and Foundation are linked statically" in result.stdout


@pytest.mark.parametrize("edit, complaint", [
    (("        libsqlite3-0 \\\n", ""), "needed but not listed ['libsqlite3-0']"),
    (("        libsnappy1v5 \\\n", ""), "needed but not listed ['libsnappy1v5']"),
    (("        libzstd1 \\\n", "        libzstd1 \\\n        libxml2 \\\n"), "listed but not needed ['libxml2']"),
])
def test_library_check_rejects_a_wrong_package_list(binary, tmp_path, edit, complaint):
    original = (ROOT / "Dockerfile").read_text()
    assert edit[0] in original
    broken = tmp_path / "Dockerfile"
    broken.write_text(original.replace(edit[0], edit[1], 1))
    result = check("--binary", binary, "--no-hadolint", "--dockerfile", str(broken))
    assert result.returncode == 1
    assert complaint in result.stdout, result.stdout
