"""The API key never leaves the process: not in output, logs, Parquet (metadata too) or state."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.integration.conftest import HarnessFactory

SECRET = "sk-live-3f9c2a7e1b"


def test_the_key_appears_in_no_output_and_no_file(make_harness: HarnessFactory) -> None:
    """Success, every failure path and the refusals print and store the key nowhere."""
    harness = make_harness(api_keys={SECRET: None})
    window = ("--from", str(harness.start_ms), "--to", str(harness.end_ms))
    cases: list[tuple[tuple[str, ...], dict[str, str]]] = [
        (("check",), {}),
        (("logs",), {}),
        (("run", *window), {"LOG_LEVEL": "DEBUG"}),
        (("run", *window), {"RAPID7_QUERY": "where(("}),
        (("run", "--from", "1h", "--to", "2h"), {}),
        (("run", "--api-key", SECRET), {}),
        (("check",), {"RAPID7_API_KEY": SECRET + "x"}),
        (("run", *window), {"RAPID7_API_ENDPOINT": "http://example.com"}),
    ]

    def run(number: int) -> tuple[int, str]:
        args, extra = cases[number]
        env = harness.env(RAPID7_API_KEY=SECRET, OUTPUT_DIR=str(harness.tmp_path / f"out{number}"))
        result = harness.cli(*args, env={**env, **extra})
        return result.returncode, result.stdout + result.stderr

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run, range(len(cases))))
    harness.ingest(rapid7_api_key=SECRET)  # `state` then reads a real checkpoint
    state = harness.cli("state", env=harness.env(RAPID7_API_KEY=SECRET))
    results.append((state.returncode, state.stdout + state.stderr))
    harness.emulator.faults.error_rates = {"next": 1.0, "start": 1.0}
    cases.append((("run", "--rescan", *window), {"RETRY_ATTEMPTS": "1"}))
    results.append(run(len(cases) - 1))

    codes = [code for code, _ in results]
    leaks = [number for number, (_, output) in enumerate(results) if SECRET in output]
    files = [str(path) for path in harness.files() if SECRET.encode() in path.read_bytes()]
    assert (codes, leaks, files) == ([0, 0, 0, 2, 2, 2, 3, 2, 0, 1], [], [])
    assert any(path.suffix == ".parquet" for path in harness.files())
