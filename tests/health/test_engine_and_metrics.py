"""Going live, issue 24 point 2: the engine's health (a tick in the last 10 s, no message 60 s late) and the
metrics in Prometheus's text format, read back by its own parser; no person, request id or free text in a label."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from dispatch.db import db
from dispatch.notify import outbox
from dispatch.worker import Worker

TOKEN = "metrics-secret-0123456789"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ticker(app: Any) -> Iterator[Any]:
    """A worker whose tick the test runs by hand (never started): on PostgreSQL its leader lock is given back after."""
    worker = Worker(app)
    yield worker.tick
    if worker.leader is not None:
        worker.leader.release()


def scrape(client: Any) -> dict[str, Any]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return {family.name: family for family in text_string_to_metric_families(response.get_data(as_text=True))}


def value(families: dict[str, Any], name: str, sample: str | None = None, **labels: str) -> float:
    family = families[name]
    found = [s.value for s in family.samples if s.name == (sample or name) and all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) == 1, (name, labels, family.samples)
    return float(found[0])


def test_the_engine_is_degraded_without_a_tick_and_ok_right_after_one(ticker: Any, client: Any, clock: Any) -> None:
    never = client.get("/api/v1/health/engine")
    assert never.status_code == 503 and never.json["status"] == "degraded" and never.json["tick_age_s"] is None
    ticker()  # what every worker's leader does each second
    ok = client.get("/api/v1/health/engine")
    assert ok.status_code == 200
    assert ok.json == {"status": "ok", "tick_age_s": 0.0, "outbox": {"due": 0, "oldest_due_age_s": None}}
    clock.advance(seconds=10)
    assert client.get("/api/v1/health/engine").status_code == 200  # 10 s: still fine
    clock.advance(seconds=1)
    stale = client.get("/api/v1/health/engine")
    assert stale.status_code == 503 and stale.json["tick_age_s"] == 11.0 and stale.json["status"] == "degraded"
    assert client.get("/api/v1/healthz").status_code == 200  # liveness says nothing of the engine


def test_a_message_waiting_past_60_s_makes_the_engine_degraded(ticker: Any, client: Any, clock: Any) -> None:
    outbox.enqueue(channel="sms", kind="test", key="late-1", now=clock.now(), payload={"body": "x"}, address="+33612345678")
    db.session.commit()
    ticker()  # a tick that runs, but no sender works
    clock.advance(seconds=5)
    ticker()
    assert client.get("/api/v1/health/engine").json["outbox"] == {"due": 1, "oldest_due_age_s": 5.0}
    clock.advance(seconds=56)
    ticker()
    late = client.get("/api/v1/health/engine")
    assert late.status_code == 503 and late.json["outbox"] == {"due": 1, "oldest_due_age_s": 61.0}


def test_metrics_need_their_token_and_hide_when_unset(app: Any, client: Any) -> None:
    assert client.get("/metrics").status_code == 404  # no token configured: the address does not exist
    app.config["DISPATCH_METRICS_TOKEN"] = TOKEN
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_the_metrics_count_what_happened_without_ids_or_people(app: Any, ticker: Any, client: Any, make: Any, clock: Any) -> None:
    app.config["DISPATCH_METRICS_TOKEN"] = TOKEN
    community = make.community()
    operator = make.member(community, "operator")
    taker, other = make.member(community, "physician"), make.member(community, "physician")
    make.device(other)
    taken = make.open(operator, community)
    still_open = make.open(operator, community)
    before = scrape(client)
    sms_before = _or_zero(before, "dispatch_messages_sent_total", channel="sms", result="sent")
    assert make.accept(taker, taken["id"], minutes=30).status_code == 200
    make.deliver()
    ticker()
    families = scrape(client)

    accept = "/api/v1/requests/<int:request_id>/accept"
    assert value(families, "dispatch_http_request_duration_seconds", "dispatch_http_request_duration_seconds_count",
                 method="POST", endpoint=accept, status="200") >= 1  # fmt: skip
    assert _or_zero(families, "dispatch_messages_sent_total", channel="sms", result="sent") > sms_before
    assert _or_zero(families, "dispatch_messages_sent_total", channel="push", result="sent") >= 1
    assert value(families, "dispatch_requests_open", phase="community") == 1
    assert value(families, "dispatch_tick_age_seconds") == 0.0
    assert value(families, "dispatch_outbox_due", channel="sms") == 0
    assert value(families, "dispatch_outbox_oldest_due_seconds") == 0.0

    # No label holds a person, a request id or free text: only these labels, and routes as patterns.
    patient = make.request_body(community)["patient"]
    allowed = {"method", "endpoint", "status", "channel", "result", "phase", "certificate", "le", "quantile"}
    for family in families.values():
        if not family.name.startswith("dispatch_"):
            continue  # the process's own (CPU, memory): no label of ours
        for sample in family.samples:
            assert set(sample.labels) <= allowed, sample
            for label in sample.labels.values():
                assert not re.search(r"/\d+(/|$)", label), label  # /requests/12/accept would be an id
                assert patient["last_name"] not in label and patient["first_name"] not in label
    assert still_open["id"] != taken["id"]


def _or_zero(families: dict[str, Any], name: str, **labels: str) -> float:
    family = families.get(name.removesuffix("_total"))
    if family is None:
        return 0.0
    found = [s.value for s in family.samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
    return float(found[0]) if found else 0.0


@pytest.mark.slow
def test_the_counts_of_several_processes_add_up_in_multiprocess_mode(tmp_path: Path) -> None:
    """Web processes and workers are separate processes: each writes its counts, any of them exposes the sum."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    count = "from dispatch import metrics; metrics.count_sent('sms', 'sent', {n})"
    for n in (2, 3):
        subprocess.run([sys.executable, "-c", count.format(n=n)], env=env, check=True, cwd=ROOT, timeout=60)
    shown = subprocess.run(
        [sys.executable, "-c", "from dispatch import metrics; print(metrics.exposition()[0].decode())"],
        env=env, check=True, cwd=ROOT, timeout=60, capture_output=True, text=True,
    )  # fmt: skip
    families = {f.name: f for f in text_string_to_metric_families(shown.stdout)}
    assert value(families, "dispatch_messages_sent", "dispatch_messages_sent_total", channel="sms", result="sent") == 5


def test_the_alert_rules_and_the_dashboard_use_only_metrics_the_service_exposes(app: Any, client: Any, tmp_path: Path) -> None:
    import json

    import trustme
    import yaml
    from py_vapid import Vapid02

    cert = tmp_path / "mssante.pem"
    trustme.CA().issue_cert("snp-dispatch.cpts.mssante.fr").cert_chain_pems[0].write_to_path(str(cert))
    key = Vapid02()
    key.generate_keys()
    key.save_key(str(tmp_path / "vapid.pem"))
    app.config.update(
        DISPATCH_METRICS_TOKEN=TOKEN, DISPATCH_SMTP_CERT=str(cert), DISPATCH_VAPID_PRIVATE_KEY=str(tmp_path / "vapid.pem")
    )
    families = scrape(client)
    assert value(families, "dispatch_certificate_expiry_seconds", certificate="mssante_client") > 0
    assert 0 <= value(families, "dispatch_vapid_key_age_seconds") < 60

    rules = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    assert {rule["alert"] for group in rules["groups"] for rule in group["rules"]} >= {
        "DispatchEngineStale", "DispatchOutboxGrowing", "DispatchCertificateExpiring", "DispatchVapidKeyOld",
    }  # fmt: skip
    dashboard = json.loads((ROOT / "deploy/grafana/snp-dispatch.json").read_text())
    exprs += [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    samples = {sample.name for family in families.values() for sample in family.samples} | set(families)
    used = {name for expr in exprs for name in re.findall(r"\bdispatch_[a-z_]+", expr)}
    assert used and used <= samples | {"dispatch_messages_sent_total"}, used - samples
