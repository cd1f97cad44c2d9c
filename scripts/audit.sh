#!/usr/bin/env bash
# pip-audit of the installed dependencies. When the vulnerability service cannot be reached
# (no dependency could be looked up), say so in one plain line and do not fail.
set -uo pipefail
bin="${1:-.venv/bin}"
report=$(mktemp)
trap 'rm -f "$report"' EXIT
"$bin/pip-audit" --skip-editable --progress-spinner off --format json --output "$report" 2>/dev/null
status=$?
"$bin/python" - "$report" "$status" <<'PY'
import json
import sys

path, status = sys.argv[1], int(sys.argv[2])
try:
    with open(path, encoding="utf-8") as handle:
        dependencies = json.load(handle).get("dependencies", [])
except (OSError, ValueError):
    dependencies = []
audited = [d for d in dependencies if "skip_reason" not in d]
vulnerable = [d for d in audited if d.get("vulns")]
if not audited:
    print(
        "pip-audit: the vulnerability service could not be reached from this machine "
        "(no dependency could be looked up); skipped. Run `make audit` where PyPI or OSV is reachable."
    )
    sys.exit(0)
for dependency in vulnerable:
    ids = ", ".join(v["id"] for v in dependency["vulns"])
    print(f"pip-audit: {dependency['name']} {dependency['version']}: {ids}")
skipped = len(dependencies) - len(audited)
print(f"pip-audit: {len(audited)} dependencies audited, {len(vulnerable)} vulnerable, {skipped} skipped")
sys.exit(1 if vulnerable or status not in (0, 1) else 0)
PY
