"""The simulated fleet: sites (a customer each, enrolled through the customer's own client
code at the storage service and the three custodians), their cameras and panel, and the ARC
operators (registered through the operator console's code).

A camera's recordings are genuine: each is age-encrypted to the site's recipients and
custodians under its own file key, with a signed manifest in the camera's chain. Their
plaintexts are not kept: :func:`plaintext` rebuilds the exact bytes from the recording's
names, so the verification after the run compares every decrypted byte without holding
gigabytes of segments in memory.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from clients.customer.site import create_site, enroll_device
from clients.customer.state import CustomerState
from clients.operator.console import init_operator, register
from clients.operator.state import OperatorState
from crypto.ed25519 import Ed25519SigningKey
from crypto.siteid import site_id_for
from crypto.statements import CameraProfile, DeviceKind, OperatorRole, SiteKeys
from tests.clients.customer_world import World

SEGMENT_MS = 2000
SEGMENT_BYTES = 200 * 1024
PROFILE = CameraProfile(pre_alarm_s=30, post_alarm_s=60, live_allowed=True, stills_only=False)
_BLOCK = os.urandom(SEGMENT_BYTES)


def plaintext(site_id: str, camera_id: str, recording_id: str) -> bytes:
    """The exact plaintext of a recording: its names, then the run's random block."""
    head = f"camvault-load {site_id}/{camera_id}/{recording_id}\n".encode()
    return head + _BLOCK[: SEGMENT_BYTES - len(head)]


@dataclass
class Camera:
    site: Site
    camera_id: str
    key: Ed25519SigningKey = field(default_factory=Ed25519SigningKey.generate)
    keys: SiteKeys | None = None  # fetched once, at its first upload
    captured: int = 0
    backlog: deque[tuple[str, int]] = field(default_factory=deque)  # (id, start) on SD card
    sequence: int = 0
    prev: bytes | None = None
    acknowledged: dict[str, int] = field(default_factory=dict)  # id -> start_ms (committed)
    capture_done: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)  # the backlog grew

    @property
    def keyid(self) -> str:
        return f"device:{self.site.site_id}/{self.camera_id}"


@dataclass
class Site:
    site_id: str
    state: CustomerState
    panel_key: Ed25519SigningKey = field(default_factory=Ed25519SigningKey.generate)
    panel_counter: int = 0
    cameras: list[Camera] = field(default_factory=list)
    alarm_open: bool = False  # the harness raises one alarm at a time per site

    @property
    def customer_key(self) -> Ed25519SigningKey:
        return self.state.site_key()


@dataclass
class Fleet:
    sites: list[Site]
    operators: list[OperatorState]

    @property
    def cameras(self) -> list[Camera]:
        return [c for s in self.sites for c in s.cameras]


def _make_site(world: World, root: Path, cameras: int) -> Site:
    state = CustomerState.init(root / f"customer-{uuid.uuid4().hex[:8]}")
    site_id = site_id_for(state.site_key().public_key, "load")
    create_site(state, world.storage.url, site_id, world.custodian_urls, 2)
    site = Site(site_id, state)
    enroll_device(state, "panel-1", DeviceKind.PANEL, "load-panel", site.panel_key.public_key, None)
    for n in range(cameras):
        cam = Camera(site, f"cam-{n:02d}")
        enroll_device(
            state, cam.camera_id, DeviceKind.CAMERA, "load-cam", cam.key.public_key, PROFILE
        )
        site.cameras.append(cam)
    return site


def _make_operator(world: World, root: Path, n: int) -> OperatorState:
    oid = f"op-{n:02d}-{uuid.uuid4().hex[:4]}"
    state = init_operator(
        root / oid, oid, OperatorRole.OPERATOR, world.storage.url, world.custodian_urls
    )
    register(state, world.arc_key)
    return state


def build_fleet(world: World, root: Path, cameras: int, per_site: int, operators: int) -> Fleet:
    """Enroll ceil(cameras / per_site) sites (the last may have fewer cameras) and register
    the operators, a few at a time (the same client code a customer and the ARC run)."""
    counts = [min(per_site, cameras - i) for i in range(0, cameras, per_site)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        sites = list(pool.map(lambda n: _make_site(world, root, n), counts))
        ops = list(pool.map(lambda n: _make_operator(world, root, n), range(operators)))
    return Fleet(sites, ops)
