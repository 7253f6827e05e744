"""A real RTSP server for the camera tests: GStreamer's RTSP server (Debian packages
gir1.2-gst-rtsp-server-1.0, python3-gi and the GStreamer plugins, installed by
scripts/install-tools.sh) serving a live H.264 test pattern with an AAC test tone, as an IP
camera does.

Runs under the system Python (/usr/bin/python3: PyGObject comes from Debian, not PyPI):
``/usr/bin/python3 tests/support/rtsp_server.py PORT PATH`` serves
``rtsp://127.0.0.1:PORT/PATH`` until killed, and prints ``ready`` once it listens.
"""

from __future__ import annotations

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

PIPELINE = (
    "( videotestsrc is-live=true pattern=ball "
    "! video/x-raw,width=320,height=240,framerate=10/1 "
    "! x264enc tune=zerolatency speed-preset=veryfast key-int-max=10 "
    "! rtph264pay name=pay0 pt=96 config-interval=1 "
    "audiotestsrc is-live=true freq=440 ! audioconvert ! audioresample "
    "! audio/x-raw,rate=16000,channels=1 ! avenc_aac ! rtpmp4gpay name=pay1 pt=97 )"
)


def main() -> None:
    port, path = sys.argv[1], sys.argv[2]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(PIPELINE)
    factory.set_shared(True)  # one encoder for every client, as a camera has
    server.get_mount_points().add_factory(f"/{path}", factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on 127.0.0.1:{port}")
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
