"""The stage of the web app's browser tests (web/e2e/stage.mjs): a whole site as real processes.

    ../.venv/bin/python scripts/stage_site.py --workdir DIR [--camera testsrc|person]
                                              [--access-period-s 25]          (from web/)
                                              [--witnesses N [--witness-quorum Q]]

On demo/stage.py's ``Story`` (the stage of `make demo`): the storage service serving the built
web app (``CAMVAULT_WEB_DIR`` = web/dist, ``CAMVAULT_WEB_CONNECT_SRC`` = the custodians),
three custodians (threshold 2) accepting CORS from the storage origin
(``CAMVAULT_ESCROW_CORS_ORIGINS``), then demo/story.py's step 1 with the CLI: the customer's
keys and site, camera cam-1 (pre-alarm 6 s, post-alarm 30 s) and panel panel-1 enrolled, the
ARC's operator op-7 and technician tech-3 registered; optionally the camera agent: ``testsrc``
(ffmpeg's test pattern with a tone, no detector, 2 s segments) or ``person`` (scikit-image's
astronaut photo as video through the opencv detector: event records labelled ``person`` and
smart alerts; the agent does not loop a file source, so the stage writes PERSON_VIDEO_S
seconds of it, after which the source ends). The storage service's alarm access period is
``--access-period-s`` (25 s); the custodians' is 60 s, their minimum.

With ``--witnesses N`` (docs/WITNESS.md): N ``camvault serve witness`` processes following the
three custodians' logs, started once the custodians are up (their log keys are what the
witnesses follow); the custodians are then restarted with ``CAMVAULT_ESCROW_WITNESSES`` (all N),
``CAMVAULT_ESCROW_WITNESS_QUORUM`` (Q, default N) and ``CAMVAULT_ESCROW_WITNESS_REFRESH_S``
(WITNESS_REFRESH_S: an idle log is cosigned again when asked, so a short freshness bound holds
while the witnesses are up); op-7 and tech-3 run ``operator init --witness '<url> <key>' ...
--witness-quorum Q`` and the customer ``customer witnesses add <key> --url <url>`` (quorum Q):
the operator's config.json and the customer's witnesses.json are what the CLI keeps.

Protocol (stdout is for it alone; everything else goes to ``DIR/logs/``): one JSON line when
the site is ready (or ``{"error": ...}`` and exit status 1), then one JSON answer line per
JSON command line read on stdin:

    {"cmd": "alarm"}                                    -> {"alarm_id", "trigger_ms"}
    {"cmd": "cli", "who": "customer"|"op-7"|"tech-3"|"camera"|"panel", "args": [...],
     "timeout_s"?: 120}                                 -> {"code", "out"}
    {"cmd": "wait-recordings", "n", "timeout_s"?: 60, "camera"?: "cam-1"} -> {"count"}
        (committed segments/stills of the camera, as `customer list` sees them; no events)
    {"cmd": "tamper-log", "custodian": "c2"}            -> {"index", "custodian"}
    {"cmd": "custodian-witnesses", "custodian": "c3", "on": false}
        -> {"custodian", "witnesses"}   (restarted with / without its witnesses: without, its
                                         receipts carry the log's own checkpoint)
    {"cmd": "stop-witnesses"}                           -> {"stopped": N}
    {"cmd": "stop"}                                     -> {"stopped": true}, then exit

A command that fails answers ``{"error": "..."}`` and the stage goes on. End of input, SIGTERM
or ``stop`` stop every process it started (each in its own process group, listed in
``DIR/pgids.json`` so the caller can kill them if this process is killed first).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import demo.stage as demo_stage  # noqa: E402
from clients.customer import recordings as rec_lib  # noqa: E402
from clients.customer.state import CustomerState  # noqa: E402
from common.time import now_ms  # noqa: E402
from crypto.tlog import entry_leaf_hash  # noqa: E402
from demo.stage import (  # noqa: E402
    CAMERA,
    OPERATOR,
    PANEL,
    SITE,
    TECHNICIAN,
    Story,
    StoryError,
    free_port,
    require_tool,
)

WHO = ("customer", OPERATOR, TECHNICIAN, "camera", "panel")
PERSON_VIDEO_S = 600  # the "person" camera's video: 10 minutes of the astronaut photo
CLI_TIMEOUT_S = 120.0
WITNESS_REFRESH_S = 5  # custodians re-cosign a checkpoint older than this when asked


class CommandError(Exception):
    """A command cannot be done; its message is the answer's ``error``."""


class WebStage(Story):
    """demo/stage.py's Story with the web app's settings added to the servers it starts:
    the ports are chosen first so that the storage service (started before the custodians)
    can name the custodians' origins in its CSP."""

    def __init__(
        self,
        workdir: Path,
        web_dir: Path,
        access_period_s: int,
        witnesses: int = 0,
        witness_quorum: int | None = None,
    ) -> None:
        super().__init__(workdir)
        self.web_dir = web_dir
        self.access_period_s = access_period_s
        self.n_witnesses = witnesses
        self.witness_quorum = witness_quorum or witnesses
        self.witnesses: list[dict[str, str]] = []  # {name, url, key}
        self.ports = [free_port() for _ in range(4)]  # storage, c1, c2, c3
        self.started: dict[str, tuple[list[str], dict[str, str]]] = {}

    @property
    def storage_origin(self) -> str:
        return f"http://127.0.0.1:{self.ports[0]}"

    @property
    def custodian_origins(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.ports[1:]]

    def start_services(self) -> None:
        ports = iter(self.ports)
        original = demo_stage.free_port
        demo_stage.free_port = lambda: next(ports)  # Story.start_services takes them in order
        try:
            super().start_services()
        finally:
            demo_stage.free_port = original
        if self.storage_url != self.storage_origin or self.custodian_urls != self.custodian_origins:
            raise StoryError("the services did not get the ports chosen for them")

    def spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        env = dict(env)
        if name == "storage":
            env["CAMVAULT_WEB_DIR"] = str(self.web_dir)
            env["CAMVAULT_WEB_CONNECT_SRC"] = ",".join(self.custodian_origins)
            env["CAMVAULT_ALARM_ACCESS_PERIOD_S"] = str(self.access_period_s)
        elif name.startswith("custodian-"):
            env["CAMVAULT_ESCROW_CORS_ORIGINS"] = self.storage_origin
        if name in self.servers:
            self.servers[name]["env"] = env
        self.started[name] = (args, env)
        proc = super().spawn(name, args, env)
        self.write_pgids()
        return proc

    def write_pgids(self) -> None:
        pgids = [p.pid for _, p, _ in self.procs if p.poll() is None]
        (self.workdir / "pgids.json").write_text(json.dumps(pgids))

    def restart(self, name: str, between: Any = None) -> None:
        """Stop server ``name``, run ``between()``, start it again with the same arguments."""
        entry = next((e for e in self.procs if e[0] == name), None)
        if entry is None:
            raise CommandError(f"no process named {name}")
        self.stop(entry[1])
        self.procs.remove(entry)
        try:
            if between is not None:
                between()
        finally:
            args, env = self.started[name]
            self.spawn(name, args, env)
        index = int(name.removeprefix("custodian-c")) - 1
        self.wait_ready(name, self.custodian_urls[index] + "/healthz")

    def start_witnesses(self) -> None:
        """The witnesses (each following the three custodians' logs), then the custodians
        restarted to collect their cosignatures."""
        from clients.api.escrow import fetch_custodian

        logs = [fetch_custodian(u).verifier.to_text() for u in self.custodian_urls]
        for i in range(1, self.n_witnesses + 1):
            name, port = f"witness-w{i}", free_port()
            url = f"http://127.0.0.1:{port}"
            data_dir = self.workdir / name
            args = ["serve", "witness", "--name", f"witness.stage/w{i}", "--port", str(port)]
            args += ["--data-dir", str(data_dir)]
            for log in logs:
                args += ["--log", log]
            self.add_server(name, data_dir, {})
            self.spawn(name, args, {})
            self.wait_ready(name, url + "/healthz")
            info = httpx.get(url + "/witness", timeout=10).json()
            self.witnesses.append({"name": str(info["name"]), "url": url,
                                   "key": str(info["verifier_key"])})  # fmt: skip
        with ThreadPoolExecutor(max_workers=3) as pool:
            list(pool.map(lambda i: self.custodian_witnesses(f"c{i}", True), (1, 2, 3)))
        self.write_layout()

    def custodian_witnesses(self, cid: str, on: bool) -> None:
        """Restart custodian ``cid`` with its witnesses (``on``) or without them."""
        name = f"custodian-{cid}"
        if name not in self.started:
            raise CommandError(f"no custodian {cid} (c1, c2 or c3)")
        args, env = self.started[name]
        env = {k: v for k, v in env.items() if not k.startswith("CAMVAULT_ESCROW_WITNESS")}
        if on:
            env["CAMVAULT_ESCROW_WITNESSES"] = ",".join(
                f"{w['url']} {w['key']}" for w in self.witnesses
            )
            env["CAMVAULT_ESCROW_WITNESS_QUORUM"] = str(self.witness_quorum)
            env["CAMVAULT_ESCROW_WITNESS_REFRESH_S"] = str(WITNESS_REFRESH_S)
        self.started[name] = (args, env)
        self.restart(name)

    def witness_args(self) -> list[str]:
        """`operator init` options naming the witnesses (empty without witnesses)."""
        args: list[str] = []
        for w in self.witnesses:
            args += ["--witness", f"{w['url']} {w['key']}"]
        if self.witnesses:
            args += ["--witness-quorum", str(self.witness_quorum)]
        return args

    def run_cli(self, who: str, args: list[str], timeout: float) -> tuple[int, str]:
        """``camvault <args>`` as ``who``, any exit status (Story.cli's environment)."""
        env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
        env["CAMVAULT_CUSTOMER_DIR"] = str(self.workdir / "customer")
        env["CAMVAULT_OPERATOR_DIR"] = str(self.workdir / who)
        try:
            proc = subprocess.run(
                [self.exe, *args],
                cwd=self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise CommandError(
                f"`camvault {' '.join(args)}` still running after {timeout:.0f} s"
            ) from None
        return proc.returncode, proc.stdout + proc.stderr


def timed(what: str, started: float) -> None:
    print(f"stage: {what} at {time.monotonic() - started:.2f} s", flush=True)


def setup(s: WebStage) -> None:
    """demo/story.py step 1: services, customer, site, devices, ARC staff. What does not
    depend on each other runs at the same time: the keys are made while the services start,
    the ARC staff register while the customer enrolls the devices."""
    t0 = time.monotonic()
    (s.workdir / "arc.key").write_text(s.arc.to_text() + "\n")
    (s.workdir / "arc.key").chmod(0o600)

    def offline() -> tuple[str, str]:
        s.cli("customer", "customer", "init", quiet=True)
        cam_key = s.cli("camera", "camera", "keygen", "-o", "cam-1.key", quiet=True).strip()
        panel_key = s.cli("panel", "panel", "keygen", "-o", "panel.key", quiet=True).strip()
        return cam_key, panel_key

    def staff(who: str, role: str) -> None:
        init = ["operator", "init", "--id", who, "--role", role, "--storage", s.storage_url]
        for url in s.custodian_urls:
            init += ["--custodian", url]
        init += s.witness_args()
        s.cli(who, *init, quiet=True)
        out = s.cli(who, "operator", "register", "--arc-key", "arc.key", quiet=True)
        if out.count("registered at") != 4:
            raise StoryError(f"{who} not registered with storage + 3 custodians:\n{out}")

    with ThreadPoolExecutor(max_workers=3) as pool:
        keys = pool.submit(offline)
        s.start_services()
        timed("services ready", t0)
        if s.n_witnesses:
            s.start_witnesses()
            timed(f"{s.n_witnesses} witnesses ready, custodians collecting", t0)
        staff_done = [
            pool.submit(staff, who, role)
            for who, role in ((OPERATOR, "operator"), (TECHNICIAN, "technician"))
        ]
        cam_key, panel_key = keys.result()
        timed("keys made", t0)
        create = ["customer", "site", "create", "--label", SITE, "--storage", s.storage_url]
        for url in s.custodian_urls:
            create += ["--custodian", url]
        s.cli("customer", *create, "--threshold", "2", quiet=True)
        timed("site created", t0)
        for i, w in enumerate(s.witnesses):
            last = ["--quorum", str(s.witness_quorum)] if i == len(s.witnesses) - 1 else []
            s.cli("customer", "customer", "witnesses", "add", w["key"], "--url", w["url"], *last,
                  quiet=True)  # fmt: skip
        # one after the other: both rewrite the customer's config.json
        s.cli(
            "customer",
            *["customer", "enroll-camera", CAMERA, "--device-key", cam_key],
            *["--model", "garden-cam", "--pre-alarm", "6", "--post-alarm", "30"],
            quiet=True,
        )
        s.cli("customer", "customer", "enroll-panel", PANEL, "--device-key", panel_key, quiet=True)
        timed("devices enrolled", t0)
        for f in staff_done:
            f.result()
        timed("ARC staff registered", t0)


def person_video(workdir: Path) -> Path:
    """PERSON_VIDEO_S seconds of scikit-image's astronaut photo (a person; NASA, public
    domain) as H.264 MPEG-TS: 10 s encoded, then repeated by stream copy (fast)."""
    import skimage

    photo = Path(skimage.__file__).parent / "data" / "astronaut.png"
    if not photo.is_file():
        raise StoryError(f"scikit-image's astronaut photo is missing ({photo})")
    ffmpeg = require_tool("ffmpeg", "run `bash scripts/install-tools.sh camera`")
    short, video = workdir / "person-10s.ts", workdir / "person.ts"
    quiet = [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
    subprocess.run(
        [*quiet, "-loop", "1", "-i", str(photo), "-t", "10", "-r", "10", "-c:v", "libx264",
         "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "20", "-f", "mpegts", str(short)],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        [*quiet, "-stream_loop", str(PERSON_VIDEO_S // 10 - 1), "-i", str(short), "-c", "copy",
         "-f", "mpegts", str(video)],
        check=True, capture_output=True,
    )  # fmt: skip
    short.unlink()
    return video


def start_camera(s: WebStage, kind: str) -> None:
    args = ["camera", "run", "--url", s.storage_url, "--site", s.site, "--camera", CAMERA]
    args += ["--key", "cam-1.key", "--state-dir", "cam-1-state"]
    if kind == "testsrc":
        args += ["--source", "testsrc", "--detector", "none"]
    elif kind == "person":
        args += ["--source", "file", "--path", str(person_video(s.workdir))]
        args += ["--detector", "opencv"]
    else:
        raise StoryError(f"unknown camera {kind!r} (testsrc or person)")
    s.camera = s.spawn("camera", args, {})


def files_of(d: Path) -> dict[str, str]:
    """The text files of a state directory (relative path -> text)."""
    out: dict[str, str] = {}
    for p in sorted(d.rglob("*")):
        if p.is_file():
            with contextlib.suppress(UnicodeDecodeError):
                out[p.relative_to(d).as_posix()] = p.read_text()
    return out


def ready_info(s: WebStage) -> dict[str, Any]:
    cust = s.workdir / "customer"
    return {
        "storageUrl": s.storage_url,
        "appUrl": s.storage_url + "/app/",
        "custodians": [{"id": f"c{i}", "url": u} for i, u in enumerate(s.custodian_urls, 1)],
        "siteId": s.site,
        "customer": {
            "dir": str(cust),
            "identityTxt": (cust / "identity.txt").read_text(),
            "siteKeyTxt": (cust / "site.key").read_text(),
            "configJson": (cust / "config.json").read_text(),
            "witnessesJson": (cust / "witnesses.json").read_text()
            if (cust / "witnesses.json").is_file() else None,
        },
        "witnesses": s.witnesses,
        "witnessQuorum": s.witness_quorum if s.witnesses else None,
        "operator": {"id": OPERATOR, "dir": str(s.workdir / OPERATOR),
                     "files": files_of(s.workdir / OPERATOR)},
        "technician": {"id": TECHNICIAN, "dir": str(s.workdir / TECHNICIAN),
                       "files": files_of(s.workdir / TECHNICIAN)},
        "camera": None if s.camera is None else CAMERA,
        "panel": PANEL,
        "workdir": str(s.workdir),
    }  # fmt: skip


# --- the commands ----------------------------------------------------------------------------


def cmd_alarm(s: WebStage, _: dict[str, Any]) -> dict[str, Any]:
    trigger_ms = now_ms()
    code, out = s.run_cli(
        "panel",
        ["panel", "trigger", "--url", s.storage_url, "--site", s.site, "--panel", PANEL,
         "--key", "panel.key", "--state", "panel-state.json"],
        CLI_TIMEOUT_S,
    )  # fmt: skip
    if code != 0:
        raise CommandError(f"panel trigger exited {code}: {out.strip()}")
    try:
        alarm_id = str(json.loads(out.strip().splitlines()[-1])["alarm_id"])
    except (IndexError, ValueError, KeyError, TypeError):
        raise CommandError(f"panel trigger printed no alarm: {out.strip()}") from None
    return {"alarm_id": alarm_id, "trigger_ms": trigger_ms}


def cmd_cli(s: WebStage, msg: dict[str, Any]) -> dict[str, Any]:
    who, args = msg.get("who"), msg.get("args")
    if who not in WHO:
        raise CommandError(f"who must be one of {', '.join(WHO)}")
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise CommandError("args must be a list of strings")
    timeout = float(msg.get("timeout_s", CLI_TIMEOUT_S))
    code, out = s.run_cli(who, args, timeout)
    return {"code": code, "out": out}


def recordings(s: WebStage, camera: str) -> int:
    """The camera's committed recordings (video or stills; not event records), as the
    customer lists them (checked against the camera's signed chain)."""
    entries = rec_lib.timeline(CustomerState(s.workdir / "customer"), camera_id=camera,
                               labels=False)  # fmt: skip
    return sum(1 for e in entries if e.item["kind"] != "event")


def cmd_wait_recordings(s: WebStage, msg: dict[str, Any]) -> dict[str, Any]:
    n = int(msg.get("n", 1))
    timeout = float(msg.get("timeout_s", 60))
    camera = str(msg.get("camera", CAMERA))
    deadline = time.monotonic() + timeout
    count = 0
    while True:
        if s.camera is not None and s.camera.poll() is not None:
            raise CommandError(f"the camera agent exited with code {s.camera.returncode}")
        count = recordings(s, camera)
        if count >= n:
            return {"count": count}
        if time.monotonic() > deadline:
            raise CommandError(f"{count} recording(s) of {camera} after {timeout:.0f} s, not {n}")
        time.sleep(0.5)


def cmd_tamper_log(s: WebStage, msg: dict[str, Any]) -> dict[str, Any]:
    """KEY-03 of tests/security/adversaries/test_custodian.py: the custodian's operator
    rewrites the newest release entry of the site in its own log (service stopped), with the
    leaf hash recomputed; the custodian is started again (it keeps its log in memory)."""
    from sqlalchemy import select, update

    from escrow_service.db import make_engine
    from escrow_service.db.models import log_entries as log_table

    cid = str(msg.get("custodian", "c2"))
    name = f"custodian-{cid}"
    if name not in s.servers:
        raise CommandError(f"no custodian {cid} (c1, c2 or c3)")
    db_url = f"sqlite:///{Path(str(s.servers[name]['data_dir'])) / 'escrow.db'}"
    site = s.site
    found: dict[str, int] = {}

    def rewrite() -> None:
        engine = make_engine(db_url)
        try:
            with engine.begin() as conn:
                rows = conn.execute(
                    select(log_table.c.idx, log_table.c.entry)
                    .where(log_table.c.site_id == site)
                    .order_by(log_table.c.idx.desc())
                ).all()
                releases = [
                    (int(idx), entry)
                    for idx, raw in rows
                    if (entry := json.loads(bytes(raw))).get("type") == "release"
                    and entry.get("site_id") == site
                ]
                if not releases:
                    raise CommandError(f"no release of site {site} in {cid}'s log")
                idx, entry = releases[0]
                entry["operator_id"] = "nobody"
                data = json.dumps(entry, separators=(",", ":"), sort_keys=True).encode()
                conn.execute(
                    update(log_table)
                    .where(log_table.c.idx == idx)
                    .values(entry=data, leaf_hash=entry_leaf_hash(data))
                )
                found["index"] = idx
        finally:
            engine.dispose()

    s.restart(name, rewrite)
    return {"index": found["index"], "custodian": cid}


def cmd_custodian_witnesses(s: WebStage, msg: dict[str, Any]) -> dict[str, Any]:
    if not s.witnesses:
        raise CommandError("this stage has no witnesses (--witnesses N)")
    cid, on = str(msg.get("custodian", "")), bool(msg.get("on", True))
    s.custodian_witnesses(cid, on)
    return {"custodian": cid, "witnesses": len(s.witnesses) if on else 0}


def cmd_stop_witnesses(s: WebStage, _: dict[str, Any]) -> dict[str, Any]:
    """Every witness stopped: custodians' cosigning rounds fail from now on."""
    n = 0
    for name, proc, _log in list(s.procs):
        if name.startswith("witness-") and proc.poll() is None:
            s.stop(proc)
            n += 1
    s.write_pgids()
    return {"stopped": n}


COMMANDS = {
    "alarm": cmd_alarm,
    "custodian-witnesses": cmd_custodian_witnesses,
    "stop-witnesses": cmd_stop_witnesses,
    "cli": cmd_cli,
    "wait-recordings": cmd_wait_recordings,
    "tamper-log": cmd_tamper_log,
}


# --- the process -------------------------------------------------------------------------------


@contextlib.contextmanager
def protocol_channel(log: Path) -> Iterator[IO[str]]:
    """The real stdout for the protocol; fd 1 and 2 (print, rich, tracebacks) go to ``log``."""
    out_fd = os.dup(1)
    log.parent.mkdir(parents=True, exist_ok=True)
    log_fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    with os.fdopen(out_fd, "w", buffering=1) as out:
        yield out


def answer(out: IO[str], obj: dict[str, Any]) -> None:
    out.write(json.dumps(obj) + "\n")
    out.flush()


def serve(s: WebStage, out: IO[str]) -> None:
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            msg = json.loads(line)
            if not isinstance(msg, dict):
                raise CommandError("a command is a JSON object")
            cmd = msg.get("cmd")
            if cmd == "stop":
                answer(out, {"stopped": True})
                return
            handler = COMMANDS.get(str(cmd))
            if handler is None:
                raise CommandError(f"unknown command {cmd!r} ({', '.join([*COMMANDS, 'stop'])})")
            print(f"stage: {line.strip()}", flush=True)
            result = handler(s, msg)
        except (CommandError, StoryError, ValueError, OSError, subprocess.SubprocessError) as e:
            result = {"error": str(e).strip() or type(e).__name__}
        except Exception as e:  # a command never kills the stage
            import traceback

            traceback.print_exc()
            result = {"error": f"{type(e).__name__}: {e}"}
        print(f"stage: -> {json.dumps(result)[:500]}", flush=True)
        answer(out, result)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workdir", type=Path, required=True)
    p.add_argument("--camera", choices=["testsrc", "person"], default=None)
    p.add_argument("--access-period-s", type=int, default=demo_stage.ACCESS_PERIOD_S)
    p.add_argument("--web-dir", type=Path, default=REPO / "web" / "dist")
    p.add_argument("--witnesses", type=int, default=0, help="witnesses of the custodians' logs")
    p.add_argument("--witness-quorum", type=int, default=None, help="cosignatures required")
    a = p.parse_args()
    workdir = a.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    with protocol_channel(workdir / "logs" / "stage.log") as out:
        started = time.monotonic()
        web_dir = a.web_dir.resolve()
        if not (web_dir / "index.html").is_file():
            answer(out, {"error": f"no web build in {web_dir} (run `npm run build` in web/)"})
            return 1
        s = WebStage(workdir, web_dir, a.access_period_s, a.witnesses, a.witness_quorum)

        def on_term(signum: int, _: Any) -> None:
            raise SystemExit(128 + signum)

        signal.signal(signal.SIGTERM, on_term)
        try:
            try:
                setup(s)
                if a.camera:
                    start_camera(s, a.camera)
                info = ready_info(s)
            except (StoryError, OSError, subprocess.SubprocessError) as e:
                answer(out, {"error": str(e).strip()})
                return 1
            info["startupS"] = round(time.monotonic() - started, 2)
            print(f"stage: ready in {info['startupS']} s", flush=True)
            answer(out, info)
            serve(s, out)
        finally:
            s.stop_all()
            s.write_pgids()
    return 0


if __name__ == "__main__":
    sys.exit(main())
