// Maintenance consents as clients/customer/consents.py answers them, signed in the browser
// with the site key: approve (a Consent for exactly what the request asks, valid from now for
// the requested duration or less), refuse (a signed request, with an optional reason), revoke
// (a Revocation posted to the storage service AND to every custodian, so that no custodian
// depends on the storage service to learn of it). The hash of every statement signed here is
// kept in ./store.ts (config.json `signed` of the CLI).

import { toHex } from "../../crypto/bytes";
import type { Ed25519SigningKey } from "../../crypto/ed25519";
import type { JsonObject } from "../../crypto/statements/fields";
import { signStatement, statementHash, type SignedStatement } from "../../crypto/statements/index";
import type { SignedFetch } from "../api";
import type { CustodianEndpoint } from "../keyfile";

export const CONSENT_TYPE = "camvault/v1/consent";
export const REVOCATION_TYPE = "camvault/v1/revocation";
/** not_before_ms is this much before now (clients/customer/consents.py), for clock skew. */
export const NOT_BEFORE_SLACK_MS = 5_000;

export interface ConsentRequest {
  request_id: string;
  site_id: string;
  operator_id: string;
  cameras: string[];
  scope: string[];
  recordings_from_ms: number;
  recordings_to_ms: number;
  duration_s: number;
  reason: string;
  created_ms: number;
  state: "pending" | "approved" | "refused";
  decided_ms: number | null;
  consent_id: string | null;
  refusal_reason: string | null;
}

export interface ConsentRecord {
  site_id: string;
  consent_id: string;
  request_id: string | null;
  grantee_id: string;
  not_before_ms: number;
  not_after_ms: number;
  created_ms: number;
  revoked: boolean;
  revoked_ms: number | null;
  consent: JsonObject;
  revocation: JsonObject | null;
}

export class ConsentInputError extends Error {
  override name = "ConsentInputError";
}

/** The validity the customer chose, never longer than what was asked: a positive whole number
 *  of seconds, at most `askedS` (undefined: exactly what was asked). */
export function validitySeconds(askedS: number, chosenS?: number): number {
  if (chosenS === undefined) return askedS;
  if (!Number.isSafeInteger(chosenS) || chosenS < 1)
    throw new ConsentInputError("the validity must be a whole number of seconds, at least 1");
  return Math.min(chosenS, askedS);
}

/** `consent-` and 16 random hex digits, as the CLI names consents. */
export function newConsentId(): string {
  const b = new Uint8Array(8);
  crypto.getRandomValues(b);
  return `consent-${toHex(b)}`;
}

/** The Consent body for `req`, exactly as clients/customer/consents.py approve() builds it. */
export function consentBody(
  req: ConsentRequest,
  siteId: string,
  nowMs: number,
  consentId: string,
  validForS?: number,
): JsonObject {
  const duration = validitySeconds(req.duration_s, validForS);
  return {
    consent_id: consentId,
    site_id: siteId,
    grantee_id: req.operator_id,
    grantee_key: null,
    cameras: [...req.cameras],
    scope: [...req.scope],
    recordings_from_ms: req.recordings_from_ms,
    recordings_to_ms: req.recordings_to_ms,
    not_before_ms: nowMs - NOT_BEFORE_SLACK_MS,
    not_after_ms: nowMs + duration * 1000,
    purpose: "maintenance",
    issued_at_ms: nowMs,
  };
}

export function signConsent(body: JsonObject, key: Ed25519SigningKey): SignedStatement {
  return signStatement(CONSENT_TYPE, body, key);
}

export function signRevocation(
  siteId: string,
  consentId: string,
  nowMs: number,
  key: Ed25519SigningKey,
): SignedStatement {
  return signStatement(REVOCATION_TYPE, { site_id: siteId, consent_id: consentId, issued_at_ms: nowMs }, key);
}

/** The envelope as JSON (what SignedStatement.to_json() posts): parsed from the exact bytes. */
export function envelopeJson(signed: SignedStatement): JsonObject {
  return JSON.parse(new TextDecoder().decode(signed.encoded)) as JsonObject;
}

export function statementHashHex(signed: SignedStatement): string {
  return toHex(statementHash(signed));
}

function sitePath(siteId: string): string {
  return `/v1/sites/${encodeURIComponent(siteId)}`;
}

export async function listRequests(api: SignedFetch, siteId: string): Promise<ConsentRequest[]> {
  return (await api.get<{ items: ConsentRequest[] }>(`${sitePath(siteId)}/consent-requests`)).items;
}

export async function listConsents(api: SignedFetch, siteId: string): Promise<ConsentRecord[]> {
  return (await api.get<{ items: ConsentRecord[] }>(`${sitePath(siteId)}/consents`)).items;
}

export async function postConsent(
  api: SignedFetch,
  siteId: string,
  signed: SignedStatement,
  requestId: string,
): Promise<ConsentRecord> {
  return api.post<ConsentRecord>(`${sitePath(siteId)}/consents`, {
    consent: envelopeJson(signed),
    request_id: requestId,
  });
}

export async function refuseRequest(
  api: SignedFetch,
  siteId: string,
  requestId: string,
  reason: string | null,
): Promise<ConsentRequest> {
  return api.post<ConsentRequest>(`${sitePath(siteId)}/consent-refusals`, { request_id: requestId, reason });
}

export async function postRevocation(
  api: SignedFetch,
  siteId: string,
  signed: SignedStatement,
): Promise<ConsentRecord> {
  return api.post<ConsentRecord>(`${sitePath(siteId)}/revocations`, { revocation: envelopeJson(signed) });
}

/** One custodian's answer to a revocation: its status word, or why it failed. */
export interface CustodianAnswer {
  custodian_id: string;
  ok: boolean;
  status: string;
}

/** POST the revocation to every custodian directly (unsigned request, as CustodianApi does:
 *  the statement carries the customer's signature). Never throws: each answer is reported. */
export async function revokeAtCustodians(
  custodians: readonly CustodianEndpoint[],
  siteId: string,
  signed: SignedStatement,
): Promise<CustodianAnswer[]> {
  const body = JSON.stringify({ revocation: envelopeJson(signed) });
  return Promise.all(
    custodians.map(async (c): Promise<CustodianAnswer> => {
      try {
        const url = new URL(`${sitePath(siteId)}/revocations`, c.url.replace(/\/+$/, "") + "/");
        const resp = await fetch(url, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body,
          credentials: "omit",
          cache: "no-store",
        });
        let data: { status?: unknown; error?: { code?: unknown } } = {};
        try {
          data = (await resp.json()) as typeof data;
        } catch {
          // no JSON body
        }
        if (!resp.ok) {
          const code = typeof data.error?.code === "string" ? data.error.code : `HTTP ${resp.status}`;
          return { custodian_id: c.custodian_id, ok: false, status: code };
        }
        return { custodian_id: c.custodian_id, ok: true, status: typeof data.status === "string" ? data.status : "ok" };
      } catch (e) {
        return { custodian_id: c.custodian_id, ok: false, status: `unreachable: ${(e as Error).message}` };
      }
    }),
  );
}

export type ConsentStateName = "pending" | "approved" | "refused" | "revoked" | "expired" | "not yet valid";

export interface ShownState {
  state: ConsentStateName;
  text: string;
}

/** A consent's state at `nowMs`. */
export function consentState(c: ConsentRecord, nowMs: number, fmt: (ms: number) => string): ShownState {
  if (c.revoked)
    return { state: "revoked", text: c.revoked_ms === null ? "revoked" : `revoked at ${fmt(c.revoked_ms)}` };
  if (nowMs >= c.not_after_ms) return { state: "expired", text: `expired at ${fmt(c.not_after_ms)}` };
  if (nowMs < c.not_before_ms) return { state: "not yet valid", text: `valid from ${fmt(c.not_before_ms)}` };
  return { state: "approved", text: `approved until ${fmt(c.not_after_ms)}` };
}

/** A request's state at `nowMs`, following its consent when it was approved. */
export function requestState(
  r: ConsentRequest,
  consents: ReadonlyMap<string, ConsentRecord>,
  nowMs: number,
  fmt: (ms: number) => string,
): ShownState {
  if (r.state === "pending") return { state: "pending", text: "pending" };
  if (r.state === "refused")
    return { state: "refused", text: r.refusal_reason ? `refused: ${r.refusal_reason}` : "refused" };
  const c = r.consent_id === null ? undefined : consents.get(r.consent_id);
  if (c === undefined) return { state: "approved", text: "approved" };
  return consentState(c, nowMs, fmt);
}
