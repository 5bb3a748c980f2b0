"""The HTML report in a real headless Chromium: no errors, no network, table and plots drawn.

Needs Debian's `chromium` at /usr/bin/chromium (apt-get install -y chromium); without it the
test fails and says so, since CI must run it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np

from budgetml.bench.report_html import write_report
from tests.bench.chromium import open_page
from tests.bench.conftest import write_run
from tests.bench.png import decode_png

RUN = "run-tiny-accuracy--eager--seed-1"


async def inspect_report(report: Path, folder: Path) -> dict[str, Any]:
    async with open_page(folder / "profile") as page:
        await page.send("Page.navigate", url=report.as_uri())
        await page.wait_for_event("Page.loadEventFired")
        found: dict[str, Any] = await page.evaluate(
            """(() => {
              const box = el => { const r = el.getBoundingClientRect();
                return {top: r.top, left: r.left, width: r.width, height: r.height}; };
              const table = document.querySelector('#results-table');
              const scatter = document.querySelector('svg.scatter');
              const point = scatter.querySelector('circle.point');
              return {
                rows: [...table.querySelectorAll('tbody tr')].map(
                  tr => [...tr.children].map(td => td.textContent.trim())),
                scatters: [...document.querySelectorAll('svg.scatter')].map(
                  svg => [...svg.querySelectorAll('circle.point')].map(c => c.dataset.config)),
                bars: document.querySelectorAll('svg.bars rect.bar').length,
                runs: document.querySelectorAll('details.run').length,
                table: box(table), scatter: box(scatter), point: box(point),
                pointColor: point.getAttribute('fill'),
              };
            })()"""
        )
        found["png"] = await page.screenshot(folder / "report.png")
        await page.evaluate(f"location.hash = '#{RUN}'")
        await asyncio.sleep(0.2)
        found["opened"] = await page.evaluate(f"document.getElementById('{RUN}').open")
        found["errors"] = page.errors()
        found["urls"] = page.requested_urls()
    return found


def test_the_report_renders_in_headless_chromium_with_its_table_and_plots(
    local_sweep: Path, tmp_path: Path
) -> None:
    report = local_sweep / "report.html"
    found = asyncio.run(inspect_report(report, tmp_path))

    assert found["errors"] == []
    assert all(url.startswith(("file:", "data:", "about:")) for url in found["urls"]), found["urls"]
    assert [row[0] for row in found["rows"]] == ["tiny-accuracy", "tiny-loss", "Average"]
    assert found["rows"][0][1].startswith("100.0% (n=3)")
    assert found["rows"][2][1] == "50.0% (n=6)"
    assert found["scatters"] == [["eager", "lazy"], ["eager", "lazy"]]
    assert found["bars"] == 4 and found["runs"] == 12
    assert found["opened"] is True  # a link to a run opens its trace

    pixels = decode_png(found["png"])
    assert pixels.shape[:2] == (900, 1280)
    assert len(np.unique(pixels.reshape(-1, pixels.shape[2]), axis=0)) > 20
    for box in (found["table"], found["scatter"]):  # both drawn within the screenshot
        assert box["top"] >= 0 and box["top"] + box["height"] <= 900 and box["width"] > 100
    point = found["point"]
    y, x = int(point["top"] + point["height"] / 2), int(point["left"] + point["width"] / 2)
    expected = tuple(int(found["pointColor"][i : i + 2], 16) for i in (1, 3, 5))
    assert tuple(int(v) for v in pixels[y, x, :3]) == expected


async def inspect_wide_report(report: Path, folder: Path) -> dict[str, Any]:
    async with open_page(folder / "profile", width=1400) as page:
        await page.send("Page.navigate", url=report.as_uri())
        await page.wait_for_event("Page.loadEventFired")
        found: dict[str, Any] = await page.evaluate(
            """(() => {
              const box = el => { const r = el.getBoundingClientRect();
                return [r.left, r.top, r.right, r.bottom]; };
              return {
                table: box(document.querySelector('#results-table')),
                viewport: document.documentElement.clientWidth,
                pageWidth: document.documentElement.scrollWidth,
                labels: [...document.querySelectorAll('svg.scatter')].map(
                  svg => [...svg.querySelectorAll('text.label')].map(box)),
              };
            })()"""
        )
        found["errors"] = page.errors()
    return found


def test_eight_configurations_fit_1400_px_and_labels_of_points_together_do_not_overlap(
    tmp_path: Path,
) -> None:
    runs = tmp_path / "runs"
    for c in range(8):  # every configuration at 0%, at nearly the same cost
        for task in ("tiny-accuracy", "tiny-loss"):
            write_run(runs, f"config-{c}", task, [(3, 0.5)], cost_usd=0.001 + 0.00001 * c)
    write_report(runs)
    found = asyncio.run(inspect_wide_report(runs / "report.html", tmp_path))

    assert found["errors"] == []
    assert found["pageWidth"] <= found["viewport"] == 1400
    assert found["table"][2] <= found["viewport"]
    for labels in found["labels"]:
        assert len(labels) == 8
        for i, a in enumerate(labels):
            for b in labels[i + 1 :]:
                assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)
