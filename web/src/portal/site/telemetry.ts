// Device health from telemetry (storage_service/api/routes/telemetry.py). Telemetry is plain
// technical data (clients/camera/telemetry.py: never anything about the images), neither
// encrypted nor signed as a statement: the device's signed request is checked by the storage
// service when it posts (principal.require_device), so there is nothing to decrypt or verify
// here, as in the CLI (operator telemetry). What is checked here is freshness: a device with
// no report for longer than its interval plus a margin is flagged stale.

import type { SignedFetch } from "../api";

/** clients/camera/config.py telemetry_interval_s. */
export const DEFAULT_INTERVAL_S = 60;
/** A late report is not yet a dead device: one missed interval plus this margin is allowed. */
export const DEFAULT_MARGIN_S = 30;

export interface Telemetry {
  device_id: string;
  received_ms: number;
  reported_ms: number;
  battery_pct: number | null;
  signal_dbm: number | null;
  firmware: string;
  storage_health: string;
  storage_free_bytes: number | null;
  temperature_c: number | null;
  uptime_s: number;
}

export interface DeviceInfo {
  device_id: string;
  kind: string;
  model: string;
  revoked: boolean;
}

export async function listDevices(api: SignedFetch, siteId: string): Promise<DeviceInfo[]> {
  return (await api.get<{ items: DeviceInfo[] }>(`/v1/sites/${encodeURIComponent(siteId)}/devices`)).items;
}

/** The newest report of each device (the API answers newest first). */
export async function latestTelemetry(
  api: SignedFetch,
  siteId: string,
  deviceIds: readonly string[],
): Promise<Map<string, Telemetry>> {
  const out = new Map<string, Telemetry>();
  await Promise.all(
    deviceIds.map(async (id) => {
      const page = await api.get<{ items: Telemetry[] }>(`/v1/sites/${encodeURIComponent(siteId)}/telemetry`, {
        device_id: id,
        limit: "1",
      });
      const t = page.items[0];
      if (t !== undefined) out.set(id, t);
    }),
  );
  return out;
}

export type Health = "revoked" | "no telemetry" | "stale" | "failing" | "degraded" | "ok";

export interface HealthOptions {
  intervalS: number;
  marginS: number;
}

/** The interval and margin, from the page's hash options (`#/devices?interval=10&margin=5`),
 *  else the camera's default. */
export function healthOptions(hash: string): HealthOptions {
  const q = new URLSearchParams(hash.includes("?") ? hash.slice(hash.indexOf("?") + 1) : "");
  const num = (k: string, d: number): number => {
    const v = Number(q.get(k));
    return q.has(k) && Number.isFinite(v) && v > 0 && v <= 86_400 ? v : d;
  };
  return { intervalS: num("interval", DEFAULT_INTERVAL_S), marginS: num("margin", DEFAULT_MARGIN_S) };
}

/** How a device is doing at `nowMs`: revoked first, then silence, then what it reports. */
export function deviceHealth(
  dev: DeviceInfo,
  t: Telemetry | undefined,
  nowMs: number,
  opts: HealthOptions = { intervalS: DEFAULT_INTERVAL_S, marginS: DEFAULT_MARGIN_S },
): Health {
  if (dev.revoked) return "revoked";
  if (t === undefined) return "no telemetry";
  if (nowMs - t.received_ms > (opts.intervalS + opts.marginS) * 1000) return "stale";
  if (t.storage_health === "failing") return "failing";
  if (t.storage_health === "degraded") return "degraded";
  return "ok";
}
