"""Every sample event through the documented invoke command (scripts/invoke.sh, i.e. `make invoke EVENT=...`)
against a running `make dev`, checked against events/expected.json. Run by ci/browser.sh.

    python3 tests/browser/check_events.py        (WATCH_PORT as for make dev)
"""

import json
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]


def main() -> int:
    expected = json.loads((ROOT / "events" / "expected.json").read_text())["events"]
    on_disk = {str(p.relative_to(ROOT / "events")) for p in (ROOT / "events").glob("*/*.json")}
    missing = sorted(on_disk - set(expected))
    failures = [f"{name}: no entry in events/expected.json" for name in missing]
    started = time.monotonic()
    for name, want in expected.items():
        run = subprocess.run(
            [str(ROOT / "scripts" / "invoke.sh"), f"events/{name}"],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
        )
        if run.returncode != 0:
            failures.append(f"{name}: invoke failed ({run.returncode}): {run.stderr.strip()[-300:]}")
            continue
        try:
            status = json.loads(run.stdout)["statusCode"]
        except (ValueError, KeyError, TypeError):
            failures.append(f"{name}: not a proxy response: {run.stdout[:200]}")
            continue
        mark = "ok " if status == want["status"] else "BAD"
        print(f"events: {mark} {name}: {status} (expected {want['status']}: {want['what']})")
        if status != want["status"]:
            failures.append(f"{name}: {status}, expected {want['status']}")
    print(f"events: {len(expected) - len(failures)}/{len(expected)} as expected in {time.monotonic() - started:.1f} s")
    for failure in failures:
        print(f"events: FAIL {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
