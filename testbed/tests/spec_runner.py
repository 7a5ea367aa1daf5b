#!/usr/bin/env python3
"""Runs MongoDB's unified-format spec tests (crud, change-streams) against mongo-testbed.

Usage: spec_runner.py [BINARY] [-v] [--report-only] [FILTER...]
  BINARY         mongo-testbed binary (or env MONGO_TESTBED_BIN)
  SPEC_TESTS_DIR folder of the spec test data (default ../shared/spec-tests from the repo root)
  FILTER         only files whose relative path contains one of these substrings

Exit code is non-zero only when the required set fails (issue #7): every applicable,
supported change-streams test must pass, and at least 90% of the supported CRUD tests.
"""

import argparse
import os
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bson import json_util  # noqa: E402
from bson.json_util import JSONOptions, JSONMode  # noqa: E402
from pymongo import MongoClient  # noqa: E402

from spec.features import Deployment  # noqa: E402
from spec.runner import FileRunner  # noqa: E402
from spec.server import Testbed  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
SUITES = ("change-streams", "crud")
CRUD_PASS_RATIO = 0.90
_JSON = JSONOptions(json_mode=JSONMode.RELAXED, document_class=dict, tz_aware=False)


def spec_dir():
    configured = os.environ.get("SPEC_TESTS_DIR")
    path = Path(configured) if configured else (REPO_ROOT / ".." / "shared" / "spec-tests")
    path = path.resolve()
    if not all((path / s).is_dir() for s in SUITES):
        sys.exit(
            f"spec tests not found at {path} (expected {', '.join(SUITES)} subfolders): "
            "set SPEC_TESTS_DIR to the folder holding MongoDB's unified-format test JSON"
        )
    return path


def spec_files(root, filters):
    for suite in SUITES:
        for path in sorted((root / suite).glob("*.json")):
            rel = f"{suite}/{path.name}"
            if not filters or any(f in rel for f in filters):
                yield rel, path


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("args", nargs="*", metavar="[BINARY] FILTER", help="testbed binary, then file filters")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every test and full reasons")
    ap.add_argument("--report-only", action="store_true", help="always exit 0")
    opts = ap.parse_intermixed_args()
    binary, filters = os.environ.get("MONGO_TESTBED_BIN"), opts.args
    # The first positional is the binary when it names a file; otherwise all are filters.
    if filters and Path(filters[0]).is_file():
        binary, filters = filters[0], filters[1:]
    if not binary or not Path(binary).is_file():
        sys.exit(f"mongo-testbed binary not found ({binary!r}): pass it as the first argument "
                 "or in MONGO_TESTBED_BIN")
    root = spec_dir()
    server = Testbed(binary)
    try:
        results = run_all(server.uri, root, filters)
    finally:
        server.stop()
    required_ok = report(results, opts.verbose)
    return 0 if required_ok or opts.report_only else 1


def run_all(uri, root, filters):
    probe = MongoClient(uri, serverSelectionTimeoutMS=10000)
    try:
        version = probe.admin.command("buildInfo").get("version", "8.0.0")
    finally:
        probe.close()
    deployment = Deployment(version)
    results = []
    for rel, path in spec_files(root, filters):
        doc = json_util.loads(path.read_text(), json_options=_JSON)
        runner = FileRunner(uri, deployment, rel, doc)
        try:
            file_results = runner.run()
        finally:
            runner.close()
        print_file(rel, file_results)
        results.extend(file_results)
    return results


def print_file(rel, results):
    c = Counter(r.status for r in results)
    line = f"{rel}: {c['passed']} passed, {c['failed']} failed, {c['skipped']} skipped"
    if c["n/a"]:
        line += f" ({c['n/a']} not applicable)"
    print(line, flush=True)


def _trim(text, limit):
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def report(results, verbose):
    """Prints failures, skips and the summary; returns whether the required set holds."""
    failed = [r for r in results if r.status == "failed"]
    if failed:
        print("\nfailures:")
        for r in failed:
            print(f"- {r.file} :: {r.test}: {r.reason if verbose else _trim(r.reason, 240)}")
    skips = Counter(f for r in results if r.status == "skipped" for f in r.features)
    na = [r for r in results if r.status == "n/a"]
    if verbose:
        print("\nskipped (declared-unsupported features) and not applicable:")
        for r in results:
            if r.status in ("skipped", "n/a"):
                print(f"- {r.file} :: {r.test}: {r.reason}")
    c = Counter(r.status for r in results)
    print(f"\nnot applicable (runOnRequirements not met by this {Deployment.topology}): {len(na)}")
    print("skips by feature: " + ", ".join(f"{k} {v}" for k, v in sorted(skips.items())))
    ok, why = required_set(results)
    print(f"required set: {'OK' if ok else 'FAILED'} ({why})")
    print(f"spec: {c['passed']} passed, {c['failed']} failed, {c['skipped']} skipped "
          f"(features: {', '.join(sorted(skips))})")
    return ok


def required_set(results):
    cs = [r for r in results if r.file.startswith("change-streams/") and r.status in ("passed", "failed")]
    crud = [r for r in results if r.file.startswith("crud/") and r.status in ("passed", "failed")]
    cs_failed = sum(r.status == "failed" for r in cs)
    crud_passed = sum(r.status == "passed" for r in crud)
    ratio = crud_passed / len(crud) if crud else 1.0
    ok = cs_failed == 0 and ratio >= CRUD_PASS_RATIO
    return ok, (f"change-streams {len(cs) - cs_failed}/{len(cs)} must all pass; "
                f"crud {crud_passed}/{len(crud)} = {ratio:.0%} of {CRUD_PASS_RATIO:.0%} needed")


if __name__ == "__main__":
    sys.exit(main())
