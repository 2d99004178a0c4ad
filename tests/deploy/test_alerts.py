"""The Prometheus alert rules: valid for Prometheus (``promtool check rules``) and each alert fired — and,
where a threshold decides, not fired — by its unit test (``promtool test rules``; Debian's prometheus
package ships promtool)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.deploy.conftest import tool

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([tool("promtool", "apt-get install prometheus"), *args], cwd=RULES,
                          capture_output=True, text=True, timeout=120)


def test_rules_are_valid() -> None:
    done = promtool("check", "rules", "alerts.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 9 rules found" in done.stdout


def test_every_alert_has_a_unit_test_and_they_pass() -> None:
    alerts = {rule["alert"] for group in yaml.safe_load((RULES / "alerts.yaml").read_text())["groups"]
              for rule in group["rules"]}
    tests = yaml.safe_load((RULES / "alerts_test.yaml").read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test["alert_rule_test"] if case["exp_alerts"]}
    assert tested == alerts
    done = promtool("test", "rules", "alerts_test.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_a_wrong_expectation_fails(tmp_path: Path) -> None:
    """promtool really evaluates the rules: a test expecting the storage alert on a healthy backend fails."""
    case = {"rule_files": [str(RULES / "alerts.yaml")], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [{"series": 'schema_registry_storage_connection_status{backend="sql"}', "values": "1x10"}],
        "alert_rule_test": [{"eval_time": "5m", "alertname": "SchemaRegistryStorageDown",
                             "exp_alerts": [{"exp_labels": {"severity": "critical", "backend": "sql"}}]}]}]}
    path = tmp_path / "wrong_test.yaml"
    path.write_text(yaml.safe_dump(case))
    done = promtool("test", "rules", str(path))
    assert done.returncode != 0 and "FAILED" in done.stdout + done.stderr
