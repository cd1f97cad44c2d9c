"""The shape of the package, outside the emulator: module, class and function lengths, and
`except BaseException` handlers. Prints the largest of each; exits 1 past the limits."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

LIMITS = {"module": 400, "class": 250, "function": 40}
MAX_BASE_EXCEPTION = 2


def lengths(path: Path) -> tuple[list[tuple[str, int]], int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = [("module", len(path.read_text(encoding="utf-8").splitlines()))]
    handlers = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            found.append(("class", node.end_lineno - node.lineno + 1))  # type: ignore[operator]
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append(("function", node.end_lineno - node.lineno + 1))  # type: ignore[operator]
        elif isinstance(node, ast.ExceptHandler):
            handlers += isinstance(node.type, ast.Name) and node.type.id == "BaseException"
    return found, handlers


def main(root: str) -> int:
    largest: dict[str, tuple[int, str]] = dict.fromkeys(LIMITS, (0, ""))
    over, handlers = [], 0
    for path in sorted(Path(root).rglob("*.py")):
        if "emulator" in path.parts:
            continue
        found, caught = lengths(path)
        handlers += caught
        for kind, size in found:
            largest[kind] = max(largest[kind], (size, str(path)))
            if size > LIMITS[kind]:
                over.append(f"{path}: a {kind} of {size} lines (limit {LIMITS[kind]})")
    for kind, (size, where) in largest.items():
        print(f"largest {kind}: {size} lines ({where}; limit {LIMITS[kind]})")
    print(f"except BaseException handlers: {handlers} (limit {MAX_BASE_EXCEPTION})")
    for line in over:
        print(line)
    return 1 if over or handlers > MAX_BASE_EXCEPTION else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "src/log_ingestion"))
