"""`assistant eval run --html`: one self-contained page, rendered by headless Chromium."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from playwright.sync_api import ConsoleMessage, Page, sync_playwright

from assistant.cli.eval_cmd import eval_group
from assistant.evaluation.html_report import reliability_points, risk_coverage_points
from tests.conftest import REPO_ROOT
from tests.test_web_ui import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

SAMPLE = REPO_ROOT / "eval" / "sample.jsonl"
IDS = ("q01", "q13", "p02", "m03", "u01", "u11")


def test_reliability_bins_and_risk_coverage() -> None:
    pairs = [(0.95, 1.0), (0.91, 1.0), (0.15, 0.0), (0.12, 1.0), (0.55, 0.0)]
    points = reliability_points(pairs, bins=10)
    flat = [value for point in points for value in point]
    assert flat == pytest.approx([0.135, 0.5, 0.55, 0.0, 0.93, 1.0])
    curve = risk_coverage_points(pairs)
    assert curve[0] == (0.2, 0.0) and curve[1] == (0.4, 0.0)
    assert curve[2] == (0.6, pytest.approx(1 / 3)) and curve[-1] == (1.0, pytest.approx(0.4))


def _watch(page: Page, problems: list[str]) -> None:
    """Collect console errors, page errors and any request that leaves the file."""

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "request", lambda request: None if request.url.startswith("file:") else problems.append(request.url)
    )


def _eval(gold: Path, index_dir: Path, *args: str | Path) -> None:
    command = [str(gold), "--index-dir", str(index_dir), *(str(a) for a in args)]
    result = CliRunner().invoke(eval_group, command, catch_exceptions=False)
    assert result.exit_code == 0, result.output


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian Chromium is not installed at /usr/bin/chromium")
def test_html_report_and_comparison_render_in_chromium(sample_index_dir: Path, tmp_path: Path) -> None:
    gold = tmp_path / "small.jsonl"
    lines = [
        line for line in SAMPLE.read_text(encoding="utf-8").splitlines() if json.loads(line)["id"] in IDS
    ]
    gold.write_text("\n".join(lines) + "\n", encoding="utf-8")
    old_json, single, compared = tmp_path / "old.json", tmp_path / "run.html", tmp_path / "compare.html"
    _eval(gold, sample_index_dir, "--out", old_json, "--html", single)
    # The comparison run abstains more, so the two runs differ on the same axes.
    _eval(gold, sample_index_dir, "--abstain-threshold", "0.6", "--compare", old_json, "--html", compared)

    page_text = compared.read_text(encoding="utf-8")
    assert not re.search(r"""(?:src|href)\s*=|<script|<link""", page_text)  # nothing loaded from outside
    assert set(re.findall(r"https?://[^\s\"'<>]+", page_text)) <= {"http://www.w3.org/2000/svg"}

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for path, runs in ((single, 1), (compared, 2)):
                page = browser.new_page(viewport={"width": 1200, "height": 900})
                problems: list[str] = []
                _watch(page, problems)
                page.goto(path.as_uri())
                charts = page.locator("svg.chart")
                assert charts.count() == 4
                labels = [charts.nth(i).get_attribute("aria-label") for i in range(4)]
                assert labels == [
                    "Reliability diagram",
                    "Risk-coverage curve",
                    "Accuracy per category",
                    "Latency histogram",
                ]
                assert page.locator("svg.chart polyline.series").count() == 2 * runs
                assert page.locator("svg.chart circle").count() >= runs
                assert page.locator("table tbody tr").count() > 10
                assert page.locator("text=answer_accuracy").count() >= 1
                box = charts.first.bounding_box()
                assert box is not None and box["width"] > 200 and box["height"] > 100
                if page.locator(".failure").count():
                    assert page.locator(".failure").first.is_visible()
                page.screenshot(path=str(ARTIFACTS / f"eval-report-{path.stem}.png"), full_page=True)
                assert problems == []
                page.close()
        finally:
            browser.close()
    assert "old (all)" in page_text and "Δ" in page_text
    # Failures show passages with the cited quote or the gold answer marked.
    assert any("<mark>" in path.read_text(encoding="utf-8") for path in (single, compared))
