"""What an IT provider deploys with (deploy/): checked without building or running anything this machine cannot.

No image is built and no container runs here: the files are read. Every DISPATCH_*, TWILIO_* and OVH_* variable that
compose.yaml, the environment example, the systemd units and the Containerfile name is a real setting; the image runs
as non-root with a health check and third-party code from the hashed lock; compose has PostgreSQL, a one-shot
migration, web and two workers with read-only root filesystems. What can run here does: the health checks' one-liners
against a local server, gunicorn with deploy/gunicorn.conf.py, `nginx -t` and `systemd-analyze verify` when present.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.settings import ENV_KEYS

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service")) + sorted((DEPLOY / "systemd").glob("*.target"))
NAME = re.compile(r"(?<![A-Za-z0-9_])(?:DISPATCH|TWILIO|OVH)_[A-Z0-9_]+")
# Read by the processes themselves rather than through config.settings.ENV_KEYS (the test checks they still are).
READ_OUTSIDE_SETTINGS = {
    "DISPATCH_WEB_WORKER": "dispatch/wsgi.py",  # a web process on PostgreSQL runs no tick unless 1
    "DISPATCH_LOG_LEVEL": "dispatch/logs.py",
    "DISPATCH_CLOCK_FILE": "dispatch/clock.py",  # tests' clock offset: production refuses it (docs/production.md says so)
}
# Names CONTRACT.md gives that the code does not read yet: a deployment file may use them before they are built.
# (DISPATCH_ENV, DISPATCH_METRICS_TOKEN and DISPATCH_DATA_KEY were here until they reached ENV_KEYS); a name must leave
# this set as soon as ENV_KEYS has it (checked below).
CONTRACT_NOT_YET_BUILT: frozenset[str] = frozenset()


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((DEPLOY / "compose.yaml").read_text()))


def _is_setting(name: str) -> bool:
    """A setting of ENV_KEYS, its `NAME_FILE` form (CONTRACT.md: every secret may be given as a file), or a known one."""
    known = set(ENV_KEYS) | set(READ_OUTSIDE_SETTINGS) | CONTRACT_NOT_YET_BUILT
    return name in known or (name.endswith("_FILE") and name.removesuffix("_FILE") in ENV_KEYS)


def _containerfile_env() -> dict[str, str]:
    """The variables of the Containerfile's ENV instructions (continuation lines joined)."""
    text = (DEPLOY / "Containerfile").read_text().replace("\\\n", " ")
    found: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            for word in shlex.split(line[4:]):
                key, _, value = word.partition("=")
                found[key] = value
    return found


def _unit_environment(path: Path) -> dict[str, str]:
    """The variables a unit's Environment= lines set (systemd's quoting, several per line)."""
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.startswith("Environment="):
            for word in shlex.split(line.removeprefix("Environment=")):
                key, _, value = word.partition("=")
                found[key] = value
    return found


def _env_example() -> dict[str, str]:
    """The example of dispatch.env: its lines, and its commented-out ones too (they are offered as they are)."""
    found: dict[str, str] = {}
    for line in (DEPLOY / "dispatch.env.example").read_text().splitlines():
        line = line.lstrip("# ").strip()
        if re.match(r"^[A-Z][A-Z0-9_]*=", line):
            key, _, value = line.partition("=")
            found[key] = value
    return found


def _service_environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {str(k): str(v) for k, v in env.items()}


# ---------------------------------------------------------------------------------------------- every variable is real


def test_every_variable_the_deployment_files_set_is_a_real_setting() -> None:
    set_by: dict[str, set[str]] = {}
    for name, service in _compose()["services"].items():
        for key in _service_environment(service):
            set_by.setdefault(key, set()).add(f"compose.yaml:{name}")
    for key in _env_example():
        set_by.setdefault(key, set()).add("dispatch.env.example")
    for unit in UNITS:
        for key in _unit_environment(unit):
            set_by.setdefault(key, set()).add(unit.name)
    for key in _containerfile_env():
        set_by.setdefault(key, set()).add("Containerfile")
    ours = {key: where for key, where in set_by.items() if NAME.fullmatch(key)}
    assert {"DISPATCH_ENV", "DISPATCH_SECRET_KEY_FILE", "DISPATCH_PROXY_HOPS", "DISPATCH_PUBLIC_URL"} <= set(ours)
    unknown = {key: sorted(where) for key, where in ours.items() if not _is_setting(key)}
    assert not unknown, f"not settings of the service: {unknown}"


def test_every_name_mentioned_anywhere_in_deploy_and_the_guide_is_a_real_setting() -> None:
    """Comments and documentation included: a mistyped name in the guide is a setting silently ignored in production."""
    files = [p for p in DEPLOY.rglob("*") if p.is_file() and p.suffix not in (".json", ".lock")]
    files.append(ROOT / "docs" / "production.md")
    unknown = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in files
        for name in NAME.findall(path.read_text(errors="replace"))
        if not _is_setting(name) and not name.endswith("_")  # `DISPATCH_SMTP_*` written as a family
    }
    assert not unknown, sorted(unknown)


def test_the_settings_read_outside_config_are_still_read_there() -> None:
    for name, path in READ_OUTSIDE_SETTINGS.items():
        assert name in (ROOT / path).read_text(), (name, path)


def test_names_waiting_for_the_code_are_in_the_contract_and_not_built_yet() -> None:
    contract = (ROOT.parent / "shared" / "CONTRACT.md").read_text() if (ROOT.parent / "shared").is_dir() else ""
    for name in CONTRACT_NOT_YET_BUILT:
        assert name not in ENV_KEYS, f"{name} is built now: drop it from CONTRACT_NOT_YET_BUILT"
        assert not contract or name in contract


# ------------------------------------------------------------------------------------------------------------- image


def test_the_image_runs_as_non_root_with_a_health_check_and_hashed_dependencies() -> None:
    text = (DEPLOY / "Containerfile").read_text()
    final = text.split("\nFROM ")[-1]  # the runtime stage
    users = re.findall(r"^USER\s+(\S+)", final, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0"), users
    assert re.search(r"^HEALTHCHECK\s.*\bCMD\b", final, re.M | re.S)
    joined = text.replace("\\\n", " ")
    installs = [line for line in joined.splitlines() if "pip install" in line]
    assert any("--require-hashes" in line and "-r deploy/requirements.lock" in line for line in installs), installs
    # Nothing else resolves dependencies from an index: the project's own wheel goes in with --no-deps.
    assert all("--no-deps" in part for line in installs for part in line.split("&&") if "pip install" in part)
    env = _containerfile_env()
    assert env["DISPATCH_ENV"] == "production"
    assert env["PROMETHEUS_MULTIPROC_DIR"].startswith("/run/")
    assert "COPY deploy/gunicorn.conf.py /etc/snp-dispatch/gunicorn.conf.py" in text


def test_the_lock_file_pins_every_dependency_with_hashes() -> None:
    text = (DEPLOY / "requirements.lock").read_text()
    blocks = [b for b in re.split(r"\n(?=[A-Za-z0-9])", text) if b.strip() and not b.lstrip().startswith("#")]
    pinned = {}
    for block in blocks:
        requirement = block.split("\\", 1)[0].strip()
        assert re.fullmatch(r"[A-Za-z0-9._-]+==[A-Za-z0-9.+!-]+( ; .+)?", requirement), requirement
        assert "--hash=sha256:" in block, f"{requirement} has no hash"
        pinned[re.sub(r"[-_.]+", "-", requirement.split("==")[0]).lower()] = requirement
    setup = (ROOT / "setup.cfg").read_text()
    section = setup.split("install_requires =", 1)[1].split("\n[", 1)[0]
    wanted = {
        re.sub(r"[-_.]+", "-", re.split(r"[\[<>=!~ ;]", line.strip(), maxsplit=1)[0]).lower()
        for line in section.splitlines()
        if line.strip() and not line.strip().startswith("#")
    }
    assert wanted | {"gunicorn"} <= set(pinned), f"regenerate with `make lock`: {sorted(wanted - set(pinned))}"
    assert "--index-url" not in text and "--find-links" not in text  # nothing of the machine that wrote it


# ----------------------------------------------------------------------------------------------------------- compose


def test_compose_runs_postgresql_a_one_shot_migration_web_and_two_workers() -> None:
    services = _compose()["services"]
    assert set(services) == {"db", "migrate", "web", "worker-1", "worker-2"}
    workers = [name for name, s in services.items() if s.get("command") == ["dispatch", "worker"]]
    assert len(workers) == 2
    migrate = services["migrate"]
    assert migrate["command"] == ["dispatch", "db", "upgrade"] and migrate["restart"] == "no"
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["web"]["command"] == ["gunicorn", "--config", "/etc/snp-dispatch/gunicorn.conf.py"]
    for name in ("web", *workers):
        assert services[name]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}, name
    db = services["db"]
    assert db["image"].split("/")[-1].startswith("postgres:")
    data = [v for v in db["volumes"] if v.endswith(":/var/lib/postgresql/data")]
    assert data and data[0].split(":")[0] in _compose()["volumes"]
    assert "pg_isready" in db["healthcheck"]["test"]


def test_compose_services_have_read_only_root_filesystems_and_the_tmpfs_they_need() -> None:
    compose = _compose()
    for name, service in compose["services"].items():
        assert service.get("read_only") is True, name
        assert service.get("tmpfs"), name
    metrics_volume = compose["volumes"]["metrics"]["driver_opts"]
    assert metrics_volume["type"] == "tmpfs"
    for name in ("web", "worker-1", "worker-2"):
        service = compose["services"][name]
        assert str(service["user"]).split(":")[0] not in ("root", "0")
        env = _service_environment(service)
        assert env["DISPATCH_ENV"] == "production"
        assert env["DISPATCH_PROXY_HOPS"] == "1"  # nginx's sample is the one proxy
        # One metrics folder for web and workers: any web process shows what the workers sent.
        assert f"metrics:{env['PROMETHEUS_MULTIPROC_DIR']}" in service["volumes"], name
        for key, value in env.items():
            if key.endswith("_FILE") or key == "DISPATCH_VAPID_PRIVATE_KEY":  # the VAPID key is a PEM file's path
                assert value.startswith("/run/secrets/") and value.rsplit("/", 1)[1] in service["secrets"], key
        assert all(not NAME.fullmatch(k) or k.endswith("_FILE") or "SECRET" not in k for k in env)


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"status": "ok"}')

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[tuple[str, type[_Health]]]:
    handler = type("Handler", (_Health,), {"status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def _run_check(command: list[str], address: str, path: str) -> int:
    assert command[0] in ("CMD", "python")
    argv = command[1:] if command[0] == "CMD" else command
    assert argv[0] == "python" and argv[1] == "-c"
    code = re.sub(r"http://[a-z0-9.]+:8000", f"http://{address}", argv[2])
    assert f"http://{address}{path}" in code
    return subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30).returncode


def test_the_health_checks_of_web_and_workers_pass_on_200_and_fail_on_503(health_server: Any) -> None:
    address, handler = health_server
    image = re.search(r"^HEALTHCHECK(?:[^\n]*\\\n)*[^\n]*", (DEPLOY / "Containerfile").read_text(), re.M)
    assert image is not None
    web_check = json.loads(image.group(0).split("CMD", 1)[1].strip())
    worker_check = _compose()["services"]["worker-1"]["healthcheck"]["test"]
    assert worker_check == _compose()["services"]["worker-2"]["healthcheck"]["test"]
    for status, ok in ((200, True), (503, False)):
        handler.status = status
        assert (_run_check(web_check, address, "/api/v1/healthz") == 0) is ok
        assert (_run_check(worker_check, address, "/api/v1/health/engine") == 0) is ok


# ---------------------------------------------------------------------------------------------------------- gunicorn


def _gunicorn_config() -> dict[str, Any]:
    source = (DEPLOY / "gunicorn.conf.py").read_text()
    namespace: dict[str, Any] = {"__file__": str(DEPLOY / "gunicorn.conf.py"), "__name__": "gunicorn_conf"}
    exec(compile(source, "gunicorn.conf.py", "exec"), namespace)  # noqa: S102 (our own file, as gunicorn reads it)
    return namespace


def test_gunicorn_serves_the_wsgi_app_without_preload_and_forgets_dead_processes(monkeypatch: Any) -> None:
    from gunicorn.glogging import Logger

    from dispatch import metrics

    conf = _gunicorn_config()
    assert conf["wsgi_app"] == "dispatch.wsgi:app" and conf["preload_app"] is False
    assert issubclass(conf["logger_class"], Logger)
    gone: list[int] = []
    monkeypatch.setattr(metrics, "process_exited", gone.append)
    conf["child_exit"](None, type("Worker", (), {"pid": 4242})())
    assert gone == [4242]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_gunicorn_with_the_config_writes_json_access_lines_without_secrets(tmp_path: Path) -> None:
    port = _free_port()
    (tmp_path / "metrics").mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DISPATCH_ENV": "development",
        "DISPATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'dispatch.sqlite3'}",
        "DISPATCH_SECRET_KEY": "test-secret",
        "DISPATCH_WEB_WORKER": "0",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    log = (tmp_path / "gunicorn.log").open("w+")
    server = subprocess.Popen(
        [str(gunicorn), "--config", str(DEPLOY / "gunicorn.conf.py")], cwd=tmp_path, env=env, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/api/v1/healthz?q=Martin", headers={"X-Forwarded-For": "198.51.100.7"}
                )
                with urllib.request.urlopen(request, timeout=5) as answer:
                    assert answer.status == 200
                    break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "gunicorn.log").read_text()
                time.sleep(0.3)
        with contextlib.suppress(urllib.error.HTTPError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/reinitialisation/s3cr3t-link-value", timeout=10)
        time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    lines = [json.loads(line) for line in (tmp_path / "gunicorn.log").read_text().splitlines() if line.startswith("{")]
    text = (tmp_path / "gunicorn.log").read_text()
    assert all(line.startswith("{") for line in text.splitlines() if line.strip()), text  # every line is JSON
    access = [line for line in lines if line["logger"] == "gunicorn.access"]
    health = next(line for line in access if line["path"] == "/api/v1/healthz")
    assert health["status"] == 200 and health["method"] == "GET" and health["client"] == "198.51.100.7"
    assert health["request_id"] and isinstance(health["duration_ms"], float)
    assert "Martin" not in text  # no query string
    assert "s3cr3t-link-value" not in text
    # The web process counted its answers in the shared folder, under the host's name and its pid.
    assert any(f.name.startswith(f"histogram_{socket.gethostname()}-") for f in (tmp_path / "metrics").iterdir())


@pytest.mark.slow
def test_processes_of_different_containers_add_up_in_one_metrics_folder(tmp_path: Path) -> None:
    """Every container's first process is pid 1: the host name (the container's id) keeps their files apart."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    named = "import socket\nsocket.gethostname = lambda: {host!r}\n"
    count = named + "from dispatch.metrics import count_sent\ncount_sent('sms', 'sent', {n})"
    for host, n in (("worker_1", 2), ("worker-2", 3)):
        subprocess.run([sys.executable, "-c", count.format(host=host, n=n)], env=env, check=True, cwd=ROOT, timeout=60)
    names = sorted(path.name for path in tmp_path.iterdir())
    assert [name.split("-")[0] for name in names] == ["counter_worker", "counter_worker"], names
    shown = subprocess.run(
        [sys.executable, "-c", "from dispatch import metrics; print(metrics.exposition()[0].decode())"],
        env=env, check=True, cwd=ROOT, timeout=60, capture_output=True, text=True,
    )  # fmt: skip
    assert 'dispatch_messages_sent_total{channel="sms",result="sent"} 5.0' in shown.stdout


# ------------------------------------------------------------------------------------------------------------- nginx


def test_the_nginx_sample_has_tls_hsts_rate_limits_and_the_proxy_headers() -> None:
    text = (DEPLOY / "nginx" / "snp-dispatch.conf").read_text()
    zones = dict(re.findall(r"limit_req_zone\s+\$binary_remote_addr\s+zone=(\w+):\S+\s+rate=(\S+);", text))
    assert set(zones) == {"dispatch_signin", "dispatch_api"}, zones
    locations = dict(re.findall(r"location\s+([^{]+?)\s*\{(.*?)\n    \}", text, re.S))
    assert "zone=dispatch_signin" in locations["= /api/v1/auth/token"]
    assert "zone=dispatch_api" in locations["/api/"]
    assert any("connexion" in where and "zone=dispatch_signin" in body for where, body in locations.items())
    hsts = re.search(r'add_header\s+Strict-Transport-Security\s+"max-age=(\d+)[^"]*"\s+always;', text)
    assert hsts is not None and int(hsts.group(1)) >= 31536000
    assert re.search(r"listen 443 ssl", text) and "ssl_certificate " in text
    assert re.search(r"ssl_protocols\s+TLSv1\.2 TLSv1\.3;", text)
    assert re.search(r"proxy_set_header\s+X-Forwarded-For\s+\$remote_addr;", text)  # one hop: DISPATCH_PROXY_HOPS=1
    assert re.search(r"proxy_set_header\s+X-Forwarded-Proto\s+\$scheme;", text)
    assert re.search(r"proxy_set_header\s+Host\s+\$host;", text)


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed (apt-get install nginx-light)")
def test_nginx_accepts_the_sample(tmp_path: Path) -> None:
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("dispatch.example.fr")
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "fullchain.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "privkey.pem"))
    site = (DEPLOY / "nginx" / "snp-dispatch.conf").read_text().replace("/etc/ssl/snp-dispatch/", f"{tmp_path}/")
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\nhttp {{ include {tmp_path}/site.conf; }}\n"
    )
    checked = subprocess.run(
        ["nginx", "-t", "-c", str(tmp_path / "nginx.conf"), "-e", str(tmp_path / "error.log")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr


# ----------------------------------------------------------------------------------------------------------- systemd


def test_the_units_run_web_migrate_and_two_workers_hardened() -> None:
    units = {unit.name: unit.read_text() for unit in UNITS}
    assert set(units) == {
        "snp-dispatch-migrate.service", "snp-dispatch-web.service", "snp-dispatch-worker@.service", "snp-dispatch.target",
    }  # fmt: skip
    assert "Type=oneshot" in units["snp-dispatch-migrate.service"]
    assert "dispatch db upgrade" in units["snp-dispatch-migrate.service"]
    assert "gunicorn --config /etc/snp-dispatch/gunicorn.conf.py" in units["snp-dispatch-web.service"]
    assert "ExecStart=/opt/snp-dispatch/bin/dispatch worker" in units["snp-dispatch-worker@.service"]
    assert "snp-dispatch-worker@1.service snp-dispatch-worker@2.service" in units["snp-dispatch.target"]
    for name in ("snp-dispatch-web.service", "snp-dispatch-worker@.service"):
        assert "Requires=snp-dispatch-migrate.service" in units[name] and "After=snp-dispatch-migrate.service" in units[name]
    for name, text in units.items():
        if name.endswith(".service"):
            assert "User=dispatch" in text and "ProtectSystem=strict" in text and "NoNewPrivileges=yes" in text, name
            env = _unit_environment(DEPLOY / "systemd" / name)
            assert env["DISPATCH_ENV"] == "production" and env["DISPATCH_PROXY_HOPS"] == "1"
            assert env["PROMETHEUS_MULTIPROC_DIR"] in (DEPLOY / "systemd" / "snp-dispatch.tmpfiles.conf").read_text()
            for key, value in env.items():
                # A credential (LoadCredential=), never a secret in the environment; the VAPID key is a file's path.
                if key.endswith("_FILE") or key == "DISPATCH_VAPID_PRIVATE_KEY":
                    assert value.startswith("%d/") and f"LoadCredential={value[3:]}:" in text, key


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent  # the venv here, /opt/snp-dispatch/bin on the machine
    for unit in UNITS:
        (tmp_path / unit.name).write_text(unit.read_text().replace("/opt/snp-dispatch/bin/", f"{bin_dir}/"))
    (tmp_path / "snp-dispatch-worker@1.service").symlink_to(tmp_path / "snp-dispatch-worker@.service")
    names = [str(tmp_path / unit.name) for unit in UNITS if "@." not in unit.name]
    checked = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *names, str(tmp_path / "snp-dispatch-worker@1.service")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert checked.returncode == 0 and not checked.stderr.strip(), checked.stderr
