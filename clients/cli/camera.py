"""`camvault camera ...`: run the camera agent, make a device key."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from clients.cli.keys import write_device_key

app = typer.Typer(help="The camera agent.", no_args_is_help=True, add_completion=False)


@app.command()
def keygen(
    out: Annotated[Path, typer.Option("--out", "-o", help="where to write the signing key")],
) -> None:
    """Make the camera's Ed25519 device key; prints the public key to enroll."""
    write_device_key(out)


@app.command()
def run(
    config: Annotated[Path | None, typer.Option(help="JSON settings (docs/CAMERA.md)")] = None,
    url: Annotated[str | None, typer.Option(help="storage service URL")] = None,
    site: Annotated[str | None, typer.Option(help="site id")] = None,
    camera: Annotated[str | None, typer.Option(help="camera (device) id")] = None,
    key: Annotated[Path | None, typer.Option(help="device signing key file")] = None,
    state_dir: Annotated[Path | None, typer.Option(help="journal, buffers, segments")] = None,
    source: Annotated[str | None, typer.Option(help="testsrc | file | dir | rtsp | v4l2")] = None,
    path: Annotated[
        str | None,
        typer.Option(help="video file, segment directory, rtsp:// URL or /dev/videoN"),
    ] = None,
    duration: Annotated[float | None, typer.Option(help="stop the source after N s")] = None,
    fast: Annotated[bool, typer.Option(help="do not pace ffmpeg at wall-clock speed")] = False,
    no_audio: Annotated[bool, typer.Option("--no-audio", help="record no sound")] = False,
    mode: Annotated[str | None, typer.Option(help="continuous | event")] = None,
    sd_dir: Annotated[Path | None, typer.Option(help="local SD-card directory")] = None,
    stills: Annotated[bool, typer.Option(help="upload JPEG stills, not video")] = False,
    detector: Annotated[str | None, typer.Option(help="opencv | none")] = None,
    site_keys: Annotated[Path | None, typer.Option(help="SiteKeys file to pin")] = None,
    exit_when_done: Annotated[
        bool, typer.Option(help="exit once the source ended and all is uploaded")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log what it does")] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="no line per committed recording")
    ] = False,
) -> None:
    """Segment, detect, encrypt, sign and upload until stopped (SIGTERM/SIGINT). Prints one
    line per recording the service acknowledged (not with -q); problems go to stderr."""
    from clients.camera.agent import CameraAgent, committed
    from clients.camera.config import CameraConfig, Mode, SourceKind

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s camera %(levelname)s %(message)s",
    )
    if not quiet:
        line = logging.StreamHandler(sys.stdout)
        line.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        committed.addHandler(line)
        committed.setLevel(logging.INFO)
        committed.propagate = False
    base = CameraConfig.load(config).to_json() if config else {}
    overrides = {
        "url": url,
        "site_id": site,
        "camera_id": camera,
        "key_file": str(key) if key else None,
        "state_dir": str(state_dir) if state_dir else None,
        "mode": mode,
        "sd_dir": str(sd_dir) if sd_dir else None,
        "detector": detector,
        "site_keys_file": str(site_keys) if site_keys else None,
    }
    base |= {k: v for k, v in overrides.items() if v is not None}
    if stills:
        base["stills"] = True
    if exit_when_done:
        base["exit_when_done"] = True
    src = dict(base.get("source") or {})
    if source:
        src["kind"] = source
    if path:
        src["path"] = path
    if duration is not None:
        src["duration_s"] = duration
    if fast:
        src["realtime"] = False
    if no_audio:
        src["audio"] = False
    base["source"] = src
    missing = [k for k in ("url", "site_id", "camera_id", "key_file", "state_dir") if k not in base]
    if missing:
        raise typer.BadParameter(f"missing settings: {', '.join(missing)}")
    try:
        cfg = CameraConfig.from_json(base)
        Mode(cfg.mode)
        SourceKind(cfg.source.kind)
    except (TypeError, ValueError) as exc:
        raise typer.BadParameter(str(exc)) from None
    from clients.detect.centernet import ModelError
    from clients.detect.opencv import CascadeMissingError
    from crypto.errors import CryptoError

    try:
        agent = CameraAgent(cfg)
    except (ModelError, CascadeMissingError) as exc:  # the default detector's files
        typer.echo(f"camvault: error: {exc} (or run with --detector none)", err=True)
        raise typer.Exit(1) from None
    except CryptoError as exc:  # e.g. the device key file
        typer.echo(f"camvault: error: {exc}", err=True)
        raise typer.Exit(1) from None
    except OSError as exc:  # a key file or state directory that cannot be read or made
        typer.echo(f"camvault: error: {exc.strerror or exc}: {exc.filename}", err=True)
        raise typer.Exit(1) from None
    signal.signal(signal.SIGTERM, lambda *_: agent.stop())
    signal.signal(signal.SIGINT, lambda *_: agent.stop())
    agent.run()
