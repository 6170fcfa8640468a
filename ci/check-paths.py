#!/usr/bin/env python3
"""Fails when a file of the project reads or names a path outside the checkout.

    python3 ci/check-paths.py [ROOT]      # ROOT defaults to the repository this script lives in

A fresh clone has nothing beside it: a `../shared/...` that worked on the author's machine breaks every
user's `make dev` and `make test` (issue #12.1). Three kinds of finding:

- a relative path whose `..` steps climb above the checkout, resolved from the directory the path is
  relative to (see `base_dir`): `path = "../shared"` in fuzz/Cargo.toml is fine (the repo's own `shared/`),
  the same `shared` reached with two `..` steps from tests/ is not;
- an absolute path under a home or workspace root (/work, /home, /root, /Users, ~/, $HOME, ...): such a path
  exists on one machine only. System paths (/usr, /bin, /tmp, /dev, /proc) are fine;
- a symlink whose target is outside the checkout.

Which files: everything git tracks plus untracked files that are not ignored (so a new file is checked
before it is committed); without git, every file outside build/tool directories. Binary files are skipped.
`.ci/run` proves the same at run time by running the suite from a clone with nothing beside it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

# Absolute paths that name one machine's home or workspace, never a system location.
MACHINE_ROOTS = re.compile(
    r"""(?<![\w.:/$-])(?:/(?:work|home|root|Users|mnt|srv|workspace|workspaces|builds|github|Volumes|private)(?=/|\b)"""
    r"""|~/|\$HOME\b|\$\{HOME\}|[A-Za-z]:\\)"""
)
# A path-like token: no whitespace, quotes or shell/markup punctuation.
TOKEN = re.compile(r"""[^\s"'`<>|;,*()\[\]{}=]+""")
# Directories that are build output or installed tools, never project files (used without git only).
SKIP_DIRS = {".git", "target", "node_modules", ".aws-sam", "__pycache__", ".schemathesis"}
MANIFESTS = ("Cargo.toml", "package.json", "pyproject.toml")
# Files that name such paths on purpose, and why. Keep this list short: each entry is unchecked.
ALLOWED_FILES = {
    "ci/tests/test_check_paths.py": "planted examples of every kind of finding, for the checker's own tests",
}


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    text: str
    why: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.why}: {self.text.strip()[:160]}"


def project_files(root: Path) -> list[Path]:
    """Tracked plus untracked-but-not-ignored files, relative to root."""
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            capture_output=True,
            check=True,
        ).stdout
        names = sorted({n for n in out.decode("utf-8", "surrogateescape").split("\0") if n})
        return [Path(n) for n in names if (root / n).exists() or (root / n).is_symlink()]
    except (OSError, subprocess.CalledProcessError):
        files = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".venv")]
            links = [d for d in dirnames if Path(dirpath, d).is_symlink()]  # not descended into
            files += [Path(dirpath, f).relative_to(root) for f in filenames + links]
        return sorted(files)


def nearest_manifest_dir(rel: PurePosixPath, root: Path) -> PurePosixPath:
    """The closest directory at or above the file's that holds a package manifest (else the root)."""
    for parent in rel.parents:
        if any((root / parent / m).is_file() for m in MANIFESTS):
            return parent
    return PurePosixPath(".")


def base_dir(rel: PurePosixPath, line: str, token_start: int, root: Path) -> PurePosixPath:
    """The directory a relative path on this line is resolved from, as the tool reading it would."""
    before = line[:token_start]
    suffix = rel.suffix
    if suffix == ".md" or rel.name in MANIFESTS or "dirname" in before or "__file__" in before:
        return rel.parent  # links, manifests' path deps, a script's own directory
    if suffix == ".rs":
        if re.search(r"include_(str|bytes)!|#\[path", before):
            return rel.parent
        return nearest_manifest_dir(rel, root)  # CARGO_MANIFEST_DIR and cargo's cwd for tests
    return PurePosixPath(".")  # scripts and configs run from the repository root


def climbs_out(base: PurePosixPath, path: str) -> bool:
    """Whether `path`, relative to `base` (relative to the root), leaves the root at any step."""
    depth = len([p for p in base.parts if p not in ("", ".")])
    for part in path.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in ("", "."):
            depth += 1
    return False


def relative_path_in(token: str) -> str | None:
    """The relative path part of a token that has a `..` component, or None."""
    if "/" not in token or "://" in token or not re.search(r"(^|/)\.\.(/|$)", token):
        return None  # a bare ".." is data (an id under test), not a path
    if token.startswith("/.."):
        token = token[1:]  # a suffix glued to a directory: concat!(env!("CARGO_MANIFEST_DIR"), "/../x")
    elif token.startswith("/"):
        return None  # absolute (a URL path such as /inquiries/../x in test data): not a file reference
    # `$(dirname ...)/..`, `${repo}/../x`, `"$root"/..`: keep what follows the variable.
    return re.sub(r"^.*[$}]/?", "", token) if "$" in token or "}" in token else token


def check_text(rel: PurePosixPath, text: str, root: Path) -> list[Finding]:
    findings = []
    for number, line in enumerate(text.splitlines(), 1):
        for m in MACHINE_ROOTS.finditer(line):
            findings.append(Finding(str(rel), number, line, f"absolute path on one machine ({m.group(0)!r})"))
        if ".." not in line:
            continue
        for m in TOKEN.finditer(line):
            path = relative_path_in(m.group(0))
            if path is not None and climbs_out(base_dir(rel, line, m.start(), root), path):
                findings.append(Finding(str(rel), number, line, f"relative path leaves the checkout ({m.group(0)!r})"))
    return findings


def check_symlink(rel: Path, root: Path) -> list[Finding]:
    target = os.readlink(root / rel)
    resolved = (root / rel).parent.joinpath(target).resolve()
    if os.path.isabs(target) or not resolved.is_relative_to(root.resolve()):
        return [Finding(str(rel), 0, target, "symlink points outside the checkout")]
    return []


def check(root: Path) -> list[Finding]:
    findings: list[Finding] = []
    me = Path(__file__).resolve()
    for rel in project_files(root):
        path = root / rel
        if path.is_symlink():
            findings += check_symlink(rel, root)
            continue
        if not path.is_file() or path.resolve() == me or rel.as_posix() in ALLOWED_FILES:
            continue  # this file names the patterns it looks for; the allowed ones say why above
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary
        findings += check_text(PurePosixPath(rel.as_posix()), data.decode("utf-8", "replace"), root)
    return findings


def main(argv: list[str]) -> int:
    root = Path(argv[1]).resolve() if len(argv) > 1 else Path(__file__).resolve().parents[1]
    findings = check(root)
    for f in findings:
        print(f, file=sys.stderr)
    if findings:
        print(f"check-paths: {len(findings)} reference(s) to paths outside the checkout {root}", file=sys.stderr)
        return 1
    print(f"check-paths: ok, {len(project_files(root))} files name no path outside the checkout")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
