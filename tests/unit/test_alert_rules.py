"""ops/prometheus/alerts.yml: well-formed rules, a runbook in docs/operator.md for each, metrics that
exist (or are listed as expected), and promtool's own check and unit tests when promtool is here."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "ops/prometheus/alerts.yml"
RULE_TESTS = REPO / "ops/prometheus/alerts.test.yml"
OPERATOR_DOC = REPO / "docs/operator.md"
RUNBOOK_PREFIX = "docs/operator.md#"
SEVERITIES = {"warning", "critical"}
METRIC_RE = re.compile(r"\b((?:xmargin|flower)_[a-z0-9_]+)\b")
RUNBOOK_PARTS = ("**What it means.**", "**Confirm.**", "**Act.**")


def _rules() -> list[dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


RULE_LIST = _rules()
ALERTS = [rule for rule in RULE_LIST if "alert" in rule]


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def doc_sections(text: str) -> dict[str, str]:
    """Anchor -> body of every heading in a Markdown document."""
    sections: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        match = re.match(r"^#{1,6}\s+(.*)$", line)
        if match:
            current = github_anchor(match.group(1))
            sections[current] = ""
        elif current is not None:
            sections[current] += line + "\n"
    return sections


def metric_table(text: str) -> dict[str, str]:
    """Metric name -> status (`exported` / `expected`) from the table in docs/operator.md's Metrics."""
    rows = re.findall(r"^\|\s*`([a-z0-9_]+)`\s*\|.*\|\s*(exported|expected)\s*\|\s*$", text, re.MULTILINE)
    return dict(rows)


def promtool() -> str:
    """promtool on PATH or fetched into .tools/ (scripts/ensure-promtool.sh); skip, or fail when required."""
    found = shutil.which("promtool") or (str(REPO / ".tools/promtool") if (REPO / ".tools/promtool").exists() else None)
    if found:
        return found
    reason = "promtool not installed: `make check-alerts` (scripts/ensure-promtool.sh) fetches it from Debian"
    if os.environ.get("XMARGIN_REQUIRE_PROMTOOL"):
        pytest.fail(reason)
    pytest.skip(reason)


def test_anchor_rules_match_githubs() -> None:
    assert github_anchor("XmarginRouteLagging") == "xmarginroutelagging"
    assert github_anchor("Flower: Celery's monitor") == "flower-celerys-monitor"


def test_every_rule_is_a_complete_alert() -> None:
    assert ALERTS and len(ALERTS) == len(RULE_LIST), "recording rules would need their own checks"
    names = [rule["alert"] for rule in ALERTS]
    assert len(names) == len(set(names)), "alert names must be unique"
    for rule in ALERTS:
        name = rule["alert"]
        assert rule.get("expr", "").strip(), name
        assert re.fullmatch(r"\d+[smh]", str(rule.get("for", ""))), f"{name}: `for` missing or not a duration"
        assert rule.get("labels", {}).get("severity") in SEVERITIES, name
        annotations = rule.get("annotations", {})
        assert annotations.get("summary", "").strip(), f"{name}: no summary"
        assert annotations.get("runbook_url", "").startswith(RUNBOOK_PREFIX), f"{name}: no runbook_url"


@pytest.mark.parametrize("rule", ALERTS, ids=lambda r: r["alert"])
def test_each_runbook_exists_and_says_what_to_do(rule: dict) -> None:
    sections = doc_sections(OPERATOR_DOC.read_text())
    anchor = rule["annotations"]["runbook_url"].removeprefix(RUNBOOK_PREFIX)
    assert anchor == github_anchor(rule["alert"]), "the runbook section is named after its alert"
    assert anchor in sections, f"docs/operator.md has no section #{anchor}"
    body = sections[anchor]
    for part in RUNBOOK_PARTS:
        assert part in body, f"#{anchor} lacks {part}"


def test_every_metric_the_rules_read_is_documented() -> None:
    table = metric_table(OPERATOR_DOC.read_text())
    used = {m for rule in ALERTS for m in METRIC_RE.findall(rule["expr"])}
    assert used, "the rules read no xmargin_/flower_ metric"
    assert used <= set(table), f"not in docs/operator.md's Metrics table: {sorted(used - set(table))}"


def test_metrics_documented_as_exported_are_exported() -> None:
    """An `exported` xmargin metric must be registered in the relayer's code (a counter `x_total` as
    `x`); Flower's own come from Flower. An expected metric that now exists should say so."""
    source = "\n".join(p.read_text() for p in (REPO / "relayer").rglob("*.py"))
    registered = set(re.findall(r"""["'](xmargin_[a-z0-9_]+)["']""", source))
    for name, status in metric_table(OPERATOR_DOC.read_text()).items():
        if name.startswith("flower_"):
            continue
        exists = name in registered or name.removesuffix("_total") in registered
        assert exists == (status == "exported"), f"{name} is documented as {status}"


def test_every_alert_has_a_promtool_unit_test_where_it_fires() -> None:
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    fired = {case["alertname"] for test in tests for case in test["alert_rule_test"] if case["exp_alerts"]}
    assert fired == {rule["alert"] for rule in ALERTS}


def test_promtool_accepts_the_rules() -> None:
    done = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(RULE_LIST)} rules found" in done.stdout


def test_promtool_unit_tests_pass(tmp_path: Path) -> None:
    """promtool compares annotations verbatim: the unit tests check labels and timing, so they run
    on a copy of the rules without annotations (whose templates `check rules` validates)."""
    doc = yaml.safe_load(RULES.read_text())
    for group in doc["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    (tmp_path / RULES.name).write_text(yaml.safe_dump(doc))
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    done = subprocess.run([promtool(), "test", "rules", RULE_TESTS.name], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
