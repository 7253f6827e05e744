"""`camvault web verify <url>` against a real `camvault serve storage` serving a build: the
published build passes; a changed byte, an extra script, a missing file each fail with one
line naming what differs; bad arguments and an unreachable server are one-line errors."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.storage.support import CAMVAULT, Service, make_service

JS = "assets/index-AbCd_1234.js"
CSS = "assets/index-EfGh_5678.css"
INDEX = (
    f'<!doctype html><title>camvault</title><link rel="stylesheet" crossorigin href="./{CSS}">'
    f'<script type="module" crossorigin src="./{JS}"></script>'
)


def write_build(web: Path) -> None:
    if web.exists():
        shutil.rmtree(web)
    (web / "assets").mkdir(parents=True)
    (web / "index.html").write_text(INDEX)
    (web / JS).write_text("console.log('the app')")
    (web / CSS).write_text("body{margin:0}")


def hashes_of(web: Path) -> str:
    rels = sorted(p.relative_to(web).as_posix() for p in web.rglob("*") if p.is_file())
    return "".join(f"{hashlib.sha256((web / r).read_bytes()).hexdigest()}  {r}\n" for r in rels)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, Path, Path]]:
    work = tmp_path_factory.mktemp("webverify")
    web = work / "dist"
    write_build(web)
    published = work / "build-hashes.txt"
    published.write_text(hashes_of(web))
    svc = make_service(work, None, None, CAMVAULT_WEB_DIR=str(web))
    svc.start()
    try:
        yield svc, web, published
    finally:
        svc.stop()


@pytest.fixture
def fresh(site: tuple[Service, Path, Path]) -> tuple[Service, Path, Path]:
    svc, web, published = site
    write_build(web)  # each test alters its own copy of the published build
    return svc, web, published


def verify(url: str, hashes: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CAMVAULT, "web", "verify", url, "--hashes", str(hashes)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def errors(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.strip()]


def test_the_published_build_passes(fresh: tuple[Service, Path, Path]) -> None:
    svc, _, published = fresh
    proc = verify(f"{svc.url}/app/", published)
    assert proc.returncode == 0, proc.stderr
    assert "is the published build (3 files" in proc.stdout
    assert f"ok  {JS}" in proc.stdout and f"ok  {CSS}" in proc.stdout
    assert verify(f"{svc.url}/app", published).returncode == 0  # without the trailing slash


def test_one_changed_byte_in_a_script_fails(fresh: tuple[Service, Path, Path]) -> None:
    svc, web, published = fresh
    (web / JS).write_text("console.log('the apq')")
    proc = verify(f"{svc.url}/app/", published)
    assert proc.returncode == 1
    assert errors(proc) == [f"camvault: error: {JS}: served bytes differ from the build"]


def test_a_page_that_loads_another_script_fails(fresh: tuple[Service, Path, Path]) -> None:
    svc, web, published = fresh
    (web / "index.html").write_text(INDEX + '<script src="https://evil.example/x.js"></script>')
    proc = verify(f"{svc.url}/app/", published)
    assert proc.returncode == 1
    assert errors(proc) == [
        f"camvault: error: the page at {svc.url}/app/ differs from the build's index.html",
        "camvault: error: the page loads https://evil.example/x.js, which the build does not have",
        "camvault: error: index.html: served bytes differ from the build",
    ]


def test_a_missing_file_fails(fresh: tuple[Service, Path, Path]) -> None:
    svc, web, published = fresh
    (web / CSS).unlink()
    proc = verify(f"{svc.url}/app/", published)
    assert proc.returncode == 1
    assert errors(proc) == [f"camvault: error: {CSS}: not served"]


@pytest.mark.parametrize(
    ("hashes_text", "message"),
    [
        ("not a hash line\n", "build-hashes.txt:1: not a `<sha256>  <path>` line"),
        (f"{'0' * 64}  ../etc/passwd\n", "build-hashes.txt:1: not a `<sha256>  <path>` line"),
        (f"{'0' * 64}  {JS}\n", "build-hashes.txt: no index.html listed"),
    ],
)
def test_bad_hashes_file_is_one_line(
    fresh: tuple[Service, Path, Path], tmp_path: Path, hashes_text: str, message: str
) -> None:
    svc, _, _ = fresh
    bad = tmp_path / "build-hashes.txt"
    bad.write_text(hashes_text)
    proc = verify(f"{svc.url}/app/", bad)
    assert proc.returncode == 1
    (line,) = errors(proc)
    assert line.startswith("camvault: error: ") and message in line


def test_bad_url_missing_file_and_unreachable_server(
    tmp_path: Path, site: tuple[Service, Path, Path]
) -> None:
    _, _, published = site
    for url, message in (
        ("ftp://example/app/", "not an http(s) URL"),
        ("http://127.0.0.1:9/app/", "cannot reach http://127.0.0.1:9"),
    ):
        proc = verify(url, published)
        assert proc.returncode == 1
        (line,) = errors(proc)
        assert line.startswith("camvault: error: ") and message in line
    proc = verify("http://127.0.0.1:9/app/", tmp_path / "none.txt")
    assert proc.returncode == 1 and "cannot read the build hashes" in errors(proc)[0]


def test_the_real_build_is_the_committed_one(tmp_path: Path) -> None:
    """The build `make web` made from this checkout, served by the storage service, is what
    the committed web/build-hashes.txt says (the default of `--hashes`)."""
    dist = Path(__file__).resolve().parents[2] / "web" / "dist"
    assert (dist / "index.html").is_file(), "web/dist is not built: run `make web` first"
    svc = make_service(tmp_path, None, None, CAMVAULT_WEB_DIR=str(dist))
    svc.start()
    try:
        proc = subprocess.run(
            [CAMVAULT, "web", "verify", f"{svc.url}/app/"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    finally:
        svc.stop()
    assert proc.returncode == 0, proc.stderr
    assert "is the published build" in proc.stdout
