// A device's signing keys over its lifecycle (mirrors crypto/statements/devices.py): the key
// of its latest DeviceEnrollment, and the keys the customer revoked (DeviceRevocation), each
// from its revoked_from_ms. A statement a revoked key signed before that time stands (the key
// was the device's then); one signed at or after it is refused: reason device_revoked. Pure.

import { Ed25519PublicKey } from "../ed25519";
import type { SignedStatement } from "./envelope";

export class DeviceKeys {
  /** `revoked`: "ed25519:..." text of each revoked key -> revoked_from_ms. */
  constructor(
    readonly current: Ed25519PublicKey,
    readonly revoked: ReadonlyMap<string, number> = new Map(),
  ) {}

  static of(keys: Ed25519PublicKey | DeviceKeys): DeviceKeys {
    return keys instanceof DeviceKeys ? keys : new DeviceKeys(keys);
  }

  /** The device's keys as config.json keeps them (clients/customer/state.py camera_keys):
   *  devices[id].device_key and devices[id].revoked_keys [{device_key, revoked_from_ms}].
   *  Undefined when the device is not enrolled; throws on a malformed entry. */
  static fromConfig(dev: Record<string, unknown> | undefined): DeviceKeys | undefined {
    const k = dev?.["device_key"];
    if (typeof k !== "string") return undefined;
    const revoked = new Map<string, number>();
    const list = dev?.["revoked_keys"] ?? [];
    if (!Array.isArray(list)) throw new Error("config.json: devices[].revoked_keys is not a list");
    for (const r of list as unknown[]) {
      const o = r as Record<string, unknown> | null;
      const key = o?.["device_key"];
      const from = o?.["revoked_from_ms"];
      if (typeof key !== "string" || typeof from !== "number" || !Number.isSafeInteger(from))
        throw new Error("config.json: a devices[].revoked_keys entry is not {device_key, revoked_from_ms}");
      const text = Ed25519PublicKey.fromText(key, "config.json: revoked device key").toText();
      revoked.set(text, Math.min(from, revoked.get(text) ?? from));
    }
    return new DeviceKeys(Ed25519PublicKey.fromText(k, "config.json: device key"), revoked);
  }

  /** The key `signed` must verify under: its signer when that is a revoked key of the device
   *  (a rotated-out key was the device's until its revocation), else the current key. */
  keyFor(signed: SignedStatement): Ed25519PublicKey {
    return this.revoked.has(signed.signer.toText()) ? signed.signer : this.current;
  }

  /** The revoked_from_ms of `key` when it was revoked at `signedAtMs`, else null. */
  revokedAt(key: Ed25519PublicKey, signedAtMs: number): number | null {
    const start = this.revoked.get(key.toText());
    return start !== undefined && signedAtMs >= start ? start : null;
  }
}
