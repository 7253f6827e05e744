"""docker-compose.yml, checked with the real tools that run here (no Docker engine):
`docker-compose config` accepts it, HAProxy accepts both proxy configurations, and the
resolved topology is what docs/OPERATIONS.md and issue 14 ask for: every service and its
health check, networks that keep each custodian apart from the storage database, the object
store and the other custodians, and no secret written in the file."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CUSTODIANS = ("c1", "c2", "c3")
SERVICES = {
    *(f"minio{i}" for i in range(1, 5)),
    "minio-init",
    "storage-db",
    "storage-migrate",
    "storage-1",
    "storage-2",
    "sweeper",
    "proxy",
    *(f"{c}{part}" for c in CUSTODIANS for part in ("", "-db", "-proxy")),
}
ONE_SHOT = {"minio-init", "storage-migrate"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY|DATABASE_URL|PRIVATE")


def tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        pytest.fail(f"{name} is not installed (scripts/install-tools.sh deploy)", pytrace=False)
    return exe


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    done = subprocess.run(
        [tool("docker-compose"), "--env-file", ".env.example", "config"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "WARNING" not in done.stderr, done.stderr  # e.g. a variable .env.example lacks
    resolved: dict[str, Any] = yaml.safe_load(done.stdout)
    return resolved


def members(compose: dict[str, Any], network: str) -> set[str]:
    return {n for n, s in compose["services"].items() if network in (s.get("networks") or {})}


def test_every_service_is_there(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == SERVICES


def test_long_running_services_have_health_checks_and_restart(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        if name in ONE_SHOT:
            assert svc["restart"] == "no", name
            continue
        assert svc.get("restart") == "unless-stopped", name
        test = svc.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), name
    for name in ("storage-1", "storage-2"):
        assert "/readyz" in " ".join(compose["services"][name]["healthcheck"]["test"])
    for c in CUSTODIANS:
        assert "/readyz" in " ".join(compose["services"][c]["healthcheck"]["test"])


def test_custodians_are_kept_apart(compose: dict[str, Any]) -> None:
    storage_side = members(compose, "storage-db") | members(compose, "objects")
    storage_side |= members(compose, "edge")
    for c in CUSTODIANS:
        assert set(compose["services"][c]["networks"]) == {f"{c}-db", f"{c}-edge"}
        assert members(compose, f"{c}-db") == {c, f"{c}-db"}  # its database: nobody else
        assert members(compose, f"{c}-edge") == {c, f"{c}-proxy"}
        assert compose["networks"][f"{c}-db"].get("internal") is True
        assert not storage_side & {c, f"{c}-db", f"{c}-proxy"}
    assert members(compose, "storage-db") == {
        "storage-db",
        "storage-1",
        "storage-2",
        "sweeper",
        "storage-migrate",
    }
    assert compose["networks"]["storage-db"].get("internal") is True


def test_minio_is_one_erasure_coded_deployment_of_four(compose: dict[str, Any]) -> None:
    for i in range(1, 5):
        svc = compose["services"][f"minio{i}"]
        assert svc["command"][-1] == "http://minio{1...4}/data"
        assert members(compose, "objects") >= {f"minio{i}"}


def test_object_store_setup_is_camvault_not_mc(compose: dict[str, Any]) -> None:
    """minio-init runs `camvault admin s3-setup` (tests/deploy/test_s3_setup.py applies it to a
    real MinIO) from the camvault image, with the image's entrypoint, which turns the secret
    files into its settings: MinIO's AGPL client `mc` is not part of the setup."""
    init = compose["services"]["minio-init"]
    assert init["image"] == compose["services"]["storage-1"]["image"]
    assert init["command"] == ["camvault", "admin", "s3-setup"]
    assert "entrypoint" not in init
    assert {s.get("target", s["source"]) for s in init["secrets"]} == {
        "CAMVAULT_S3_ADMIN_ACCESS_KEY",
        "CAMVAULT_S3_ADMIN_SECRET_KEY",
        "CAMVAULT_S3_ACCESS_KEY",
        "CAMVAULT_S3_SECRET_KEY",
    }
    admin = {s["target"]: s["source"] for s in init["secrets"] if "target" in s}
    assert admin == {
        "CAMVAULT_S3_ADMIN_ACCESS_KEY": "minio_root_user",
        "CAMVAULT_S3_ADMIN_SECRET_KEY": "minio_root_password",
    }
    assert init["environment"]["CAMVAULT_S3_ENDPOINT"] == "http://minio1:9000"
    assert not (REPO / "deploy/minio-init.sh").exists()


def test_storage_reaches_minio_through_the_proxy(compose: dict[str, Any]) -> None:
    """The replicas and the sweeper reach the store through HAProxy's objects-internal
    frontend (every MinIO node behind it), so losing one node does not cut them off
    (tests/cluster kills minio1 under load); minio-init talks to one node once."""
    cfg = (REPO / "deploy/haproxy/storage.cfg").read_text()
    assert re.search(
        r"^frontend objects-internal\n(?:\s+.*\n)*?\s+default_backend minio$", cfg, re.M
    )
    for name in ("storage-1", "storage-2", "sweeper"):
        assert compose["services"][name]["environment"]["CAMVAULT_S3_ENDPOINT"] == (
            "http://proxy:9000"
        ), name
        assert "objects" in compose["services"][name]["networks"], name
    assert "objects" in compose["services"]["proxy"]["networks"]


def test_no_service_runs_minios_agpl_client(compose: dict[str, Any]) -> None:
    """MinIO's client `mc` is AGPL: no entrypoint, command or health check runs it, and the
    MinIO image does not carry it (health checks speak HTTP to /minio/health/live)."""
    for name, svc in compose["services"].items():
        argv = [*(svc.get("entrypoint") or []), *(svc.get("command") or [])]
        argv += (svc.get("healthcheck") or {}).get("test") or []
        assert not any(re.search(r"(^|[\s/])mc(\s|$)", str(arg)) for arg in argv), name
    dockerfile = (REPO / "deploy/minio.Dockerfile").read_text()
    assert "minio/mc" not in dockerfile
    assert "/go/bin/mc" not in dockerfile


def test_two_storage_replicas_behind_the_proxy() -> None:
    cfg = (REPO / "deploy/haproxy/storage.cfg").read_text()
    assert re.findall(r"^\s*server (storage-\d) ", cfg, re.M) == ["storage-1", "storage-2"]
    assert "option httpchk GET /readyz" in cfg


def test_no_secret_is_written_in_the_file(compose: dict[str, Any]) -> None:
    raw = (REPO / "docker-compose.yml").read_text()
    assert not re.search(r"://[^:/\s]+:[^@\s]+@", raw)  # no URL with a password in it
    for name, svc in compose["services"].items():
        for var, value in (svc.get("environment") or {}).items():
            if SECRET_NAME.search(var) and not var.endswith("_FILE"):
                pytest.fail(f"{name}: {var} is set in the file: a secret must be a file")
            assert "BEGIN" not in str(value), (name, var)
    for secret in compose["secrets"].values():
        assert Path(secret["file"]).parent == REPO / "secrets"
    assert "/secrets/" in (REPO / ".gitignore").read_text().splitlines()


@pytest.mark.parametrize("config", ["storage.cfg", "custodian.cfg", "witness.cfg"])
def test_haproxy_accepts_the_proxy_configuration(config: str, tmp_path: Path) -> None:
    pem = tmp_path / "tls.pem"
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1"]
    subprocess.run(
        ["openssl", "req", "-x509", *key, "-subj", "/CN=test", "-keyout", pem, "-out", pem],
        check=True,
        capture_output=True,
    )
    done = subprocess.run(
        [tool("haproxy"), "-c", "-f", REPO / "deploy/haproxy" / config],
        env={**os.environ, "TLS_PEM": str(pem), "CUSTODIAN": "c1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Configuration file is valid" in done.stdout + done.stderr


def test_make_secrets_makes_private_files_once(tmp_path: Path) -> None:
    (tmp_path / "deploy").mkdir()
    shutil.copy(REPO / "deploy/make-secrets.sh", tmp_path / "deploy")
    script = tmp_path / "deploy/make-secrets.sh"
    subprocess.run(["bash", script], check=True, capture_output=True, timeout=60)
    made = {p.name: p.read_bytes() for p in (tmp_path / "secrets").iterdir()}
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    wanted = {Path(s["file"]).name for s in compose["secrets"].values()}
    assert wanted <= set(made)
    assert all((tmp_path / "secrets" / n).stat().st_mode & 0o077 == 0 for n in made)
    subprocess.run(["bash", script], check=True, capture_output=True, timeout=60)
    assert {p.name: p.read_bytes() for p in (tmp_path / "secrets").iterdir()} == made


def test_entrypoint_turns_secret_files_into_settings(tmp_path: Path) -> None:
    (tmp_path / "CAMVAULT_DATABASE_URL").write_text("postgresql+psycopg://u:pw@db/camvault")
    (tmp_path / "other_secret").write_text("not a setting")
    done = subprocess.run(
        ["sh", REPO / "deploy/entrypoint.sh", "env"],
        env={"PATH": os.environ["PATH"], "CAMVAULT_SECRETS_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "CAMVAULT_DATABASE_URL=postgresql+psycopg://u:pw@db/camvault" in done.stdout
    assert "not a setting" not in done.stdout


def test_the_image_holds_every_package() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    pyproject = (REPO / "pyproject.toml").read_text()
    include = re.search(r"include = \[([^\]]*)\]", pyproject)
    assert include is not None
    packages = {p.strip().strip('"').rstrip("*") for p in include.group(1).split(",")}
    for package in packages:
        assert f"COPY {package} {package}" in dockerfile, package


def test_the_web_app_is_served_and_reaches_only_the_custodians(compose: dict[str, Any]) -> None:
    """The storage replicas serve the web app the image builds (the published build, checked
    in the image's build stage) and let it connect to the three custodians' public origins;
    each custodian accepts CORS from exactly the storage service's public origin."""
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "npm ci" in dockerfile and "npm run hashes:check" in dockerfile
    assert "COPY --from=web /src/web/dist /app/web/dist" in dockerfile
    ignored = (REPO / ".dockerignore").read_text().split()
    assert "!tests/vectors" in ignored  # the build reads the shared vectors (self-test page)
    assert "web/node_modules" in ignored and "web/dist" in ignored  # never the host's copies
    services = compose["services"]
    storage_origin = services["storage-1"]["environment"]["CAMVAULT_PUBLIC_URL"]
    custodian_origins = []
    for n in (1, 2, 3):
        env = services[f"c{n}"]["environment"]
        assert env["CAMVAULT_ESCROW_CORS_ORIGINS"] == storage_origin
        authority = env["CAMVAULT_ESCROW_PUBLIC_AUTHORITY"]
        port = authority.rsplit(":", 1)[1]
        assert f"{port}:8443" in " ".join(str(p) for p in services[f"c{n}-proxy"]["ports"]) or any(
            str(p.get("published")) == port
            for p in services[f"c{n}-proxy"]["ports"]
            if isinstance(p, dict)
        )
        custodian_origins.append(f"https://{authority}")
    for name in ("storage-1", "storage-2"):
        env = services[name]["environment"]
        assert env["CAMVAULT_WEB_DIR"] == "/app/web/dist"
        assert env["CAMVAULT_WEB_CONNECT_SRC"].split(",") == custodian_origins


def test_custodians_take_their_witnesses_from_the_env_file(compose: dict[str, Any]) -> None:
    """No witness by default (.env.example leaves them empty, which the custodian reads as
    none and quorum "all"); what an installer puts in .env reaches every custodian."""
    for c in CUSTODIANS:
        env = compose["services"][c]["environment"]
        assert (
            env["CAMVAULT_ESCROW_WITNESSES"] == "" and env["CAMVAULT_ESCROW_WITNESS_QUORUM"] == ""
        )
    line = "https://w1.example.org:8301 w1.example.org/x+01234567+AAAA"
    done = subprocess.run(
        [tool("docker-compose"), "--env-file", ".env.example", "config"],
        cwd=REPO,
        env={**os.environ, "CAMVAULT_WITNESSES": line, "CAMVAULT_WITNESS_QUORUM": "2"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    services = yaml.safe_load(done.stdout)["services"]
    for c in CUSTODIANS:
        env = services[c]["environment"]
        assert env["CAMVAULT_ESCROW_WITNESSES"] == line
        assert env["CAMVAULT_ESCROW_WITNESS_QUORUM"] == "2"


def test_the_custodian_reads_empty_witness_settings_as_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from escrow_service.core.settings import EscrowSettings

    monkeypatch.setenv("CAMVAULT_ESCROW_CUSTODIAN_ID", "c1")
    monkeypatch.setenv("CAMVAULT_ESCROW_WITNESSES", "")
    monkeypatch.setenv("CAMVAULT_ESCROW_WITNESS_QUORUM", "")
    settings = EscrowSettings()
    assert settings.witnesses == "" and settings.witness_quorum is None
    monkeypatch.setenv("CAMVAULT_ESCROW_WITNESS_QUORUM", "two")
    with pytest.raises(ValueError, match="integer"):
        EscrowSettings()


def _volume(entry: str | dict[str, Any]) -> tuple[str, str]:
    """(source, target) of a resolved volume entry (docker-compose v1 keeps the short form)."""
    if isinstance(entry, str):
        source, target = entry.split(":")[:2]
        return source, target
    return str(entry["source"]), str(entry["target"])


def test_a_witness_host_runs_one_witness_behind_tls() -> None:
    """docker-compose.witness.yml, resolved with its example settings: the witness (its key
    and database in a volume, read-only root, health check) and its TLS proxy, published on
    8301; no database, no other camvault service, no secret in the file."""
    done = subprocess.run(
        [
            tool("docker-compose"),
            "-f",
            "docker-compose.witness.yml",
            "--env-file",
            "deploy/witness.env.example",
            "config",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "WARNING" not in done.stderr, done.stderr
    resolved = yaml.safe_load(done.stdout)
    services = resolved["services"]
    assert set(services) == {"witness", "witness-proxy"}
    w = services["witness"]
    assert w["command"][:3] == ["camvault", "serve", "witness"]
    assert w["read_only"] is True and "healthcheck" in w and w["restart"] == "unless-stopped"
    assert w["environment"]["CAMVAULT_WITNESS_NAME"] == "witness.example.org/camvault-1"
    assert w["environment"]["CAMVAULT_WITNESS_LOGS"].startswith("camvault.io/custodian/c1+")
    assert [_volume(v) for v in w["volumes"]] == [("witness-data", "/data")]
    assert "ports" not in w  # reached only through the proxy
    proxy = services["witness-proxy"]
    assert [str(p["published"]) for p in proxy["ports"]] == ["8301"]
    assert _volume(proxy["volumes"][0])[0].endswith("deploy/haproxy/witness.cfg")
    for value in (*w["environment"].values(), *proxy["environment"].values()):
        assert not SECRET_NAME.search(str(value))
