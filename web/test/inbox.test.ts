// The Inbox page's parsing and decryption, on what the camera's own code makes: a smart alert
// built by clients/camera/events.py smart_alert() and sealed by clients/camera/seal.py
// seal_to_customer() to a fresh identity is opened here with that identity (and not with
// another); an event record from events.py event_record() with a real JPEG thumbnail gives
// that JPEG back; access notices in the custodian's form (escrow_service/services/notices.py)
// are read, malformed ones refused.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decryptRecording, generateIdentity } from "../src/crypto/age";
import { b64decodePadded } from "../src/crypto/base64";
import { toHex, utf8 } from "../src/crypto/bytes";
import {
  InboxFormatError,
  noticeWhy,
  openSmartAlert,
  parseNotice,
  parseSmartAlert,
  thumbnailOfEventRecord,
  type InboxItem,
} from "../src/portal/site/inbox";
import { REPO_ROOT } from "./vectors";

const PYTHON = join(REPO_ROOT, ".venv", "bin", "python");
const skip = process.env.CAMVAULT_WEB_NO_PYTHON === "1";
if (!skip && !existsSync(PYTHON))
  throw new Error(`${PYTHON} not found: run make install first, or set CAMVAULT_WEB_NO_PYTHON=1`);

const CAMERA_HARNESS = `
import base64, json
from types import SimpleNamespace
import cv2, numpy as np
from clients.camera.events import event_record, smart_alert
from clients.camera.seal import seal_to_customer
from clients.detect.base import Detection, Label, SegmentDetections
from crypto.age.x25519 import X25519Identity

ident = X25519Identity.generate()
site = SimpleNamespace(recipients=[ident.recipient()])
seg = SimpleNamespace(recording_id="segment-1765000000000-aa", kind=SimpleNamespace(value="segment"),
                      start_ms=1765000000000, end_ms=1765000002000)
ev = SimpleNamespace(recording_id="event-1765000000000-bb")
img = np.zeros((48, 64, 3), np.uint8); img[10:30, 20:40] = (40, 200, 90)
jpeg = cv2.imencode(".jpg", img)[1].tobytes()
found = SegmentDetections(
    detections=[Detection(Label("person"), 0.91234, (1, 2, 3, 4), "hog-people"),
                Detection(Label("vehicle"), 0.5, (1, 2, 3, 4), "haar")],
    frames_sampled=4, thumbnail_jpeg=jpeg)
alert_id, body = smart_alert("cam-1", seg, ev, found)
record = event_record("cam-1", seg, found, "opencv")
print(json.dumps({
    "identity": ident.to_text(), "alert_id": alert_id, "body": body.decode(),
    "alert_file": base64.b64encode(seal_to_customer(site, body)).decode(),
    "record_file": base64.b64encode(seal_to_customer(site, record)).decode(),
    "jpeg_hex": jpeg.hex(),
}))
`;

function camera(): any {
  return JSON.parse(
    execFileSync(PYTHON, ["-c", CAMERA_HARNESS], {
      cwd: REPO_ROOT,
      env: { ...process.env, PYTHONPATH: REPO_ROOT },
      encoding: "utf8",
    }),
  );
}

const notice = {
  type: "camvault/v1/access-notice",
  custodian_id: "c1",
  origin: "custodian c1",
  site_id: "site-x",
  log_index: 7,
  time_ms: 1_765_000_100_000,
  release_id: "rel-1",
  operator_id: "tech-3",
  purpose: "maintenance",
  justification: { consent_id: "consent-00112233aabbccdd" },
  cameras: ["cam-1"],
  from_ms: 1_765_000_000_000,
  to_ms: 1_765_000_060_000,
  released_root: "ab",
  recordings: [{}, {}],
};

describe("access notices", () => {
  it("are read in the custodian's form; the justification says why", () => {
    const n = parseNotice(JSON.stringify(notice));
    expect(n.operator_id).toBe("tech-3");
    expect(n.recordings.length).toBe(2);
    expect(noticeWhy(n)).toBe("consent consent-00112233aabbccdd");
    expect(noticeWhy(parseNotice(JSON.stringify({ ...notice, justification: { event_id: "ev-9" } })))).toBe(
      "alarm event ev-9",
    );
  });
  it("malformed ones are refused with a reason", () => {
    expect(() => parseNotice(null)).toThrow(/not JSON/);
    expect(() => parseNotice("[]")).toThrow(/not an object/);
    expect(() => parseNotice(JSON.stringify({ ...notice, type: "x" }))).toThrow(InboxFormatError);
    expect(() => parseNotice(JSON.stringify({ ...notice, cameras: [1] }))).toThrow(/cameras/);
    expect(() => parseNotice(JSON.stringify({ ...notice, time_ms: "now" }))).toThrow(/time_ms/);
  });
});

describe("smart alert bodies", () => {
  it("refuse another type, missing members and bad labels", () => {
    const good = {
      type: "camvault/v1/smart-alert",
      alert_id: "a",
      camera_id: "cam-1",
      segment_recording_id: "s",
      event_recording_id: "e",
      start_ms: 1,
      labels: [{ label: "person", confidence: 0.9 }],
    };
    expect(parseSmartAlert(utf8(JSON.stringify(good))).labels).toEqual([{ label: "person", confidence: 0.9 }]);
    expect(() => parseSmartAlert(utf8(JSON.stringify({ ...good, type: "camvault/v1/detection-event" })))).toThrow(
      /type/,
    );
    expect(() => parseSmartAlert(utf8(JSON.stringify({ ...good, labels: [{ label: "x" }] })))).toThrow(/confidence/);
    expect(() => parseSmartAlert(utf8("{"))).toThrow(/not JSON/);
    expect(() => parseSmartAlert(Uint8Array.of(0xff, 0xfe))).toThrow(/not JSON/);
  });
});

describe.skipIf(skip)("what the camera's code makes (clients/camera/events.py, seal.py)", () => {
  const cam = skip ? null : camera();
  const item = (payload: string | null): InboxItem => ({
    id: 1,
    kind: "smart_alert",
    source: "camera:cam-1",
    source_ref: cam.alert_id,
    created_ms: 1,
    text: null,
    payload,
  });

  it("a smart alert opens with the customer identity: labels, confidence, camera, segment", async () => {
    const a = await openSmartAlert(item(cam.alert_file), cam.identity);
    expect(a).toEqual({
      alert_id: cam.alert_id,
      camera_id: "cam-1",
      segment_recording_id: "segment-1765000000000-aa",
      event_recording_id: "event-1765000000000-bb",
      start_ms: 1765000000000,
      labels: [
        { label: "person", confidence: 0.912 },
        { label: "vehicle", confidence: 0.5 },
      ],
    });
    expect(a).toEqual(parseSmartAlert(utf8(cam.body)));
  });

  it("another identity, a damaged file or a non-base64 payload is refused", async () => {
    await expect(openSmartAlert(item(cam.alert_file), await generateIdentity())).rejects.toThrow(/cannot decrypt/);
    const bytes = b64decodePadded(cam.alert_file);
    bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 1;
    await expect(openSmartAlert(item(Buffer.from(bytes).toString("base64")), cam.identity)).rejects.toThrow(
      /cannot decrypt/,
    );
    await expect(openSmartAlert(item("***"), cam.identity)).rejects.toThrow(/base64/);
    await expect(openSmartAlert(item(null), cam.identity)).rejects.toThrow(/not a smart alert/);
  });

  it("the event record's thumbnail is the camera's JPEG; a record of another camera is refused", async () => {
    const plain = await decryptRecording(b64decodePadded(cam.record_file), { identities: [cam.identity] });
    const jpeg = thumbnailOfEventRecord(plain, "cam-1");
    expect(jpeg && toHex(jpeg)).toBe(cam.jpeg_hex);
    expect(() => thumbnailOfEventRecord(plain, "cam-2")).toThrow(/another camera/);
    const noThumb = JSON.parse(new TextDecoder().decode(plain));
    noThumb.thumbnail_jpeg = null;
    expect(thumbnailOfEventRecord(utf8(JSON.stringify(noThumb)), "cam-1")).toBeNull();
    noThumb.thumbnail_jpeg = Buffer.from("not a jpeg").toString("base64");
    expect(() => thumbnailOfEventRecord(utf8(JSON.stringify(noThumb)), "cam-1")).toThrow(/not a JPEG/);
  });
});
