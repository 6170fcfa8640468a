"""ci/check-paths.py: the repository passes, and each kind of reference outside the checkout is caught.

Planted trees are plain directories (no git), so the checker walks them.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "ci" / "check-paths.py"

_spec = importlib.util.spec_from_file_location("check_paths", SCRIPT)
check_paths = importlib.util.module_from_spec(_spec)
sys.modules["check_paths"] = check_paths  # dataclasses look their module up there
_spec.loader.exec_module(check_paths)


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "checkout"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


# A minimal workspace: root manifest, a crate in tests/, a crate in fuzz/ (its own directory).
BASE = {
    "Cargo.toml": "[workspace]\nmembers = [\"shared\", \"tests\"]\n",
    "shared/Cargo.toml": "[package]\nname = \"shared\"\n",
    "shared/src/lib.rs": "",
    "tests/Cargo.toml": "[package]\nname = \"tests\"\n",
    "openapi.yaml": "openapi: 3.1.0\n",
    "docs/guide.md": "see [design](design.md)\n",
    "docs/design.md": "",
}


def test_the_repository_names_no_path_outside_itself():
    res = subprocess.run([sys.executable, str(SCRIPT), str(REPO)], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    assert "check-paths: ok" in res.stdout


# The planted paths are assembled from parts, so that this file never names a folder beside the checkout itself.
UP = ".."
TEAM = UP + "/shared"  # one level up
TEAM2 = UP + "/" + TEAM  # two levels up


@pytest.mark.parametrize(
    ("name", "text"),
    [
        # The defect of issue #12: the test crate read Persona's spec from a folder beside the repository.
        ("tests/src/paths.rs", 'Path::new(env!("CARGO_MANIFEST_DIR")).join("' + TEAM2 + '/openapi.json")\n'),
        ("tests/src/deep/x.rs", 'concat!(env!("CARGO_MANIFEST_DIR"), "/' + TEAM2 + '/docs/design.md")\n'),
        ("openapi.yaml", "# docs: " + TEAM + "/docs/design.md\n"),
        ("docs/guide.md", "see [design](" + TEAM2 + "/docs/design.md)\n"),
        ("scripts/dev.sh", 'spec="$(dirname "$0")/' + TEAM2 + '/openapi.json"\n'),
        ("scripts/dev.sh", 'cd ../other-repo && make\n'),
        ("fuzz/Cargo.toml", '[dependencies]\nx = { path = "' + TEAM2 + '" }\n'),
        ("README.md", "clone it next to /work/shared first\n"),
        ("ci/x.sh", "source /home/alice/env.sh\n"),
        ("ci/x.sh", 'export PATH="$HOME/.venvs/sam/bin:$PATH"\n'),
        ("docs/guide.md", "python3 -m venv ~/.venvs/sam\n"),
    ],
)
def test_planted_references_outside_the_checkout_fail(tmp_path, name, text):
    root = _tree(tmp_path, {**BASE, name: text})
    findings = check_paths.check(root)
    assert [f.file for f in findings] == [name], findings
    res = subprocess.run([sys.executable, str(SCRIPT), str(root)], capture_output=True, text=True, check=False)
    assert res.returncode == 1 and name in res.stderr


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("fuzz/Cargo.toml", '[dependencies]\npersona-resume = { path = "../shared" }\n'),
        ("tests/src/our_contract.rs", 'Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.yaml")\n'),
        ("docs/guide.md", "see [the README](../README.md)\n"),
        ("scripts/test.sh", 'cd "$(dirname "${BASH_SOURCE[0]}")/.."\n'),
        ("tests/tests/abuse.rs", 'let ids = ["inq_a/../b", ".."];\n'),
        ("events/bad.json", '{"rawPath": "/inquiries/../one-time-link"}\n'),
        ("tests/src/runtime_api.rs", '("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin")\n'),
        ("docs/guide.md", "see https://example.com/a/../b and 0..8\n"),
    ],
)
def test_references_inside_the_checkout_pass(tmp_path, name, text):
    root = _tree(tmp_path, {**BASE, name: text})
    assert check_paths.check(root) == []


def test_a_symlink_out_of_the_checkout_fails(tmp_path):
    root = _tree(tmp_path, BASE)
    (tmp_path / "outside").mkdir()
    os.symlink("../../outside", root / "docs" / "link")
    os.symlink("design.md", root / "docs" / "ok-link")
    findings = check_paths.check(root)
    assert [f.file for f in findings] == ["docs/link"], findings


def test_every_exempt_file_exists():
    """A stale exemption would silently exempt whatever later takes its name."""
    for name, why in check_paths.ALLOWED_FILES.items():
        assert (REPO / name).is_file(), f"{name} ({why}) is exempt but does not exist"
