"""The adversarial suite's verdicts, printed as a table at the end of the test session."""

from __future__ import annotations

from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Verdict:
    attack: str
    isolation: str
    contained: bool
    run_continued: bool


VERDICTS: list[Verdict] = []


@pytest.fixture(scope="session")
def verdicts() -> list[Verdict]:
    return VERDICTS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not VERDICTS:
        return
    terminalreporter.section("sandbox: adversarial scripts")
    width = max(len(v.attack) for v in VERDICTS)
    terminalreporter.write_line(f"{'attack':<{width}} | isolation  | contained | run continued")
    for v in VERDICTS:
        contained, continued = ("yes" if v.contained else "no", "yes" if v.run_continued else "no")
        terminalreporter.write_line(
            f"{v.attack:<{width}} | {v.isolation:<10} | {contained:<9} | {continued}"
        )
