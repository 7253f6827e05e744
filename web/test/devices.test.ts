// The Devices page's health rule: revoked first, then silence (no report, or none for longer
// than the interval plus the margin), then what the device reports; the interval and margin
// from the page's options, bounded.
import { describe, expect, it } from "vitest";
import {
  DEFAULT_INTERVAL_S,
  DEFAULT_MARGIN_S,
  deviceHealth,
  healthOptions,
  type DeviceInfo,
  type Telemetry,
} from "../src/portal/site/telemetry";

const NOW = 1_765_000_000_000;
const cam: DeviceInfo = { device_id: "cam-1", kind: "camera", model: "m", revoked: false };
const report = (ageS: number, storage = "ok"): Telemetry => ({
  device_id: "cam-1",
  received_ms: NOW - ageS * 1000,
  reported_ms: NOW - ageS * 1000,
  battery_pct: null,
  signal_dbm: null,
  firmware: "1.0",
  storage_health: storage,
  storage_free_bytes: 1,
  temperature_c: null,
  uptime_s: 5,
});

describe("deviceHealth", () => {
  it("flags a device stale after its interval plus the margin, not before", () => {
    const limit = DEFAULT_INTERVAL_S + DEFAULT_MARGIN_S;
    expect(deviceHealth(cam, report(limit), NOW)).toBe("ok");
    expect(deviceHealth(cam, report(limit + 1), NOW)).toBe("stale");
    expect(deviceHealth(cam, report(11), NOW, { intervalS: 5, marginS: 5 })).toBe("stale");
    expect(deviceHealth(cam, report(10), NOW, { intervalS: 5, marginS: 5 })).toBe("ok");
  });
  it("revoked wins; no report is said; storage problems are shown", () => {
    expect(deviceHealth({ ...cam, revoked: true }, report(1), NOW)).toBe("revoked");
    expect(deviceHealth(cam, undefined, NOW)).toBe("no telemetry");
    expect(deviceHealth(cam, report(1, "failing"), NOW)).toBe("failing");
    expect(deviceHealth(cam, report(1, "degraded"), NOW)).toBe("degraded");
    expect(deviceHealth(cam, report(1, "absent"), NOW)).toBe("ok");
  });
});

describe("healthOptions", () => {
  it("reads interval and margin from the hash, refusing nonsense", () => {
    expect(healthOptions("#/devices")).toEqual({ intervalS: DEFAULT_INTERVAL_S, marginS: DEFAULT_MARGIN_S });
    expect(healthOptions("#/devices?interval=5&margin=2")).toEqual({ intervalS: 5, marginS: 2 });
    expect(healthOptions("#/devices?interval=-5&margin=abc")).toEqual({
      intervalS: DEFAULT_INTERVAL_S,
      marginS: DEFAULT_MARGIN_S,
    });
    expect(healthOptions("#/devices?interval=1e9").intervalS).toBe(DEFAULT_INTERVAL_S);
  });
});
