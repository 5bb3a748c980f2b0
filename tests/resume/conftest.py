"""Kill-and-resume tests: the table of kill points they print at the end of the session."""

from __future__ import annotations

import pytest

RESULTS: list[tuple[str, bool, bool]] = []
"""(kill point, resumed to the end, same result as the uninterrupted run), in test order."""


@pytest.fixture
def kill_table() -> list[tuple[str, bool, bool]]:
    return RESULTS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RESULTS:
        return
    width = max(len(point) for point, _, _ in RESULTS)
    terminalreporter.section("kill and resume")
    terminalreporter.write_line(f"{'kill point':<{width}} | resumed | same result")
    terminalreporter.write_line(f"{'-' * width}-|---------|------------")
    for point, resumed, same in RESULTS:
        yes = {True: "yes", False: "NO"}
        terminalreporter.write_line(f"{point:<{width}} | {yes[resumed]:<7} | {yes[same]}")
