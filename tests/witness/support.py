"""Real witness processes (``python -m witness_service``) and a toy log to feed them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from crypto.tlog import consistency_proof, leaf_hash, root_from_leaf_hashes
from crypto.tlog.cosignature import AddCheckpoint, CosignatureVerifier
from crypto.tlog.note import Checkpoint, NoteSigner, sign_checkpoint
from tests.support.services import free_port, wait_until

REPO = Path(__file__).resolve().parents[2]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


@dataclass
class WitnessProc:
    name: str
    workdir: Path
    logs: list[str]  # verifier keys of the logs it follows
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.workdir / self.name.replace("/", "_")

    def start(self) -> WitnessProc:
        env = dict(os.environ)
        env.update(
            CAMVAULT_WITNESS_NAME=self.name,
            CAMVAULT_WITNESS_DATA_DIR=str(self.data_dir),
            CAMVAULT_WITNESS_LOGS=",".join(self.logs),
        )
        log = self.data_dir.with_suffix(".log")
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "witness_service", "--port", str(self.port)],
                cwd=REPO,
                env=env,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(lambda: _healthy(self.url), what=f"witness {self.name}", proc=self.proc, log=log)
        return self

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)
        self.proc = None

    def verifier(self) -> CosignatureVerifier:
        info = httpx.get(self.url + "/witness", timeout=10).json()
        return CosignatureVerifier.from_text(info["verifier_key"])

    def config(self) -> str:
        """The custodian's setting entry for this witness: ``<url> <verifier key>``."""
        return f"{self.url} {self.verifier().to_text()}"


class ToyLog:
    """A log held in memory: leaves, signed checkpoints, consistency proofs."""

    def __init__(self, origin: str = "camvault.io/custodian/toy") -> None:
        self.signer = NoteSigner.generate(origin)
        self.leaves: list[bytes] = []

    @property
    def vkey(self) -> str:
        return self.signer.verifier.to_text()

    def add(self, n: int, tag: str = "") -> None:
        for _ in range(n):
            self.leaves.append(leaf_hash(f"{tag}entry {len(self.leaves)}".encode()))

    def checkpoint(self, size: int | None = None, signer: NoteSigner | None = None) -> bytes:
        size = len(self.leaves) if size is None else size
        cp = Checkpoint(self.signer.name, size, root_from_leaf_hashes(self.leaves[:size]))
        return sign_checkpoint(cp, signer or self.signer)

    def request(self, old: int, size: int | None = None) -> bytes:
        size = len(self.leaves) if size is None else size
        proof = consistency_proof(self.leaves, old, size) if old else []
        return AddCheckpoint(old, tuple(proof), self.checkpoint(size)).to_bytes()
