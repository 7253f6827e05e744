// The storage service as an operator calls it (clients/api/storage.py, the ARC routes): every
// request signed with the operator's key as keyid operator:<id>.

import type { Json } from "../crypto/canonical";
import type { ConsentRequest } from "../portal/site/consents";
import { b64decodePadded } from "../crypto/base64";
import { ApiRefusal, refusal, SignedFetch } from "../portal/api";
import { parseSse } from "./sse";

export interface Alarm {
  alarm_id: string;
  site_id: string;
  panel_id: string;
  event_id: string;
  alarm_type: string;
  triggered_at_ms: number;
  counter: number;
  state: "open" | "acknowledged" | "closed" | "cancelled";
  created_ms: number;
  access_until_ms: number;
  access_open: boolean;
  acknowledged_ms: number | null;
  acknowledged_by: string | null;
  closed_ms: number | null;
  cancelled_ms: number | null;
  event: Json;
}

export interface ArcRecording {
  camera_id: string;
  recording_id: string;
  kind: string;
  start_ms: number;
  end_ms: number;
  payload_size: number;
  sequence: number;
  status: string;
  committed_ms: number;
}

export interface RecordingDetail extends ArcRecording {
  header: string | null;
  download_url: string | null;
}

/** A consent request as the storage service lists it: the portal's type (one schema). */
export type ConsentRequestOut = ConsentRequest;

export interface ConsentOut {
  site_id: string;
  consent_id: string;
  request_id: string | null;
  grantee_id: string;
  not_before_ms: number;
  not_after_ms: number;
  revoked: boolean;
  consent: Json & { body: { cameras: string[]; recordings_from_ms: number; recordings_to_ms: number } };
}

export interface ConsentRequestIn {
  cameras: string[];
  scope: string[];
  recordings_from_ms: number;
  recordings_to_ms: number;
  duration_s: number;
  reason: string;
}

const PAGE_LIMIT = 500;

export class OperatorStorage extends SignedFetch {
  constructor(origin: string, operatorId: string, key: string) {
    super(origin, `operator:${operatorId}`, key);
  }

  async alarmQueue(states: readonly string[] = ["open", "acknowledged"]): Promise<Alarm[]> {
    const url = new URL("/v1/alarms", this.origin);
    for (const s of states) url.searchParams.append("state", s);
    const resp = await this.raw("GET", url.pathname + url.search);
    if (!resp.ok) throw await refusal(resp);
    return ((await resp.json()) as { items: Alarm[] }).items;
  }

  alarm(alarmId: string): Promise<Alarm> {
    return this.get<Alarm>(`/v1/alarms/${encodeURIComponent(alarmId)}`);
  }

  ack(alarmId: string): Promise<Alarm> {
    return this.post<Alarm>(`/v1/alarms/${encodeURIComponent(alarmId)}/ack`, undefined);
  }

  /** Every recording of the site on the justified route (403 no_justification without one). */
  async recordings(siteId: string): Promise<ArcRecording[]> {
    const out: ArcRecording[] = [];
    let cursor: string | null = null;
    do {
      const params: Record<string, string> = { limit: String(PAGE_LIMIT) };
      if (cursor !== null) params["cursor"] = cursor;
      const page: { items: ArcRecording[]; next_cursor: string | null } = await this.get(
        `/v1/sites/${encodeURIComponent(siteId)}/arc/recordings`,
        params,
      );
      out.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor !== null);
    return out;
  }

  recording(siteId: string, cameraId: string, recordingId: string): Promise<RecordingDetail> {
    const e = encodeURIComponent;
    return this.get<RecordingDetail>(`/v1/sites/${e(siteId)}/arc/cameras/${e(cameraId)}/recordings/${e(recordingId)}`);
  }

  /** The alarm's live feed (SSE): `recording` events, then `end`. Stops when `signal` aborts. */
  async *feed(alarmId: string, signal: AbortSignal): AsyncGenerator<{ event: string; data: Record<string, unknown> }> {
    const resp = await this.raw("GET", `/v1/alarms/${encodeURIComponent(alarmId)}/feed`, {
      headers: { Accept: "text/event-stream" },
    });
    if (!resp.ok) throw await refusal(resp);
    if (resp.body === null) throw new ApiRefusal(resp.status, "http_error", "the feed has no body");
    for await (const ev of parseSse(resp.body, signal)) {
      if (!ev.data) continue;
      yield { event: ev.event || "message", data: JSON.parse(ev.data) as Record<string, unknown> };
    }
  }

  requestConsent(siteId: string, req: ConsentRequestIn): Promise<ConsentRequestOut> {
    return this.post<ConsentRequestOut>(`/v1/sites/${encodeURIComponent(siteId)}/consent-requests`, req);
  }

  async myRequests(): Promise<ConsentRequestOut[]> {
    return (await this.get<{ items: ConsentRequestOut[] }>("/v1/consent-requests")).items;
  }

  async myConsents(): Promise<ConsentOut[]> {
    return (await this.get<{ items: ConsentOut[] }>("/v1/consents")).items;
  }
}

export function headerBytes(d: RecordingDetail): Uint8Array | null {
  return d.header === null ? null : b64decodePadded(d.header);
}
