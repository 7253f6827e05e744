// The Consents page's statements, checked against the customer CLI's own code: for the same
// request, clock and consent id, clients/customer/consents.py approve() and revoke() (run for
// real, with only the storage service and the clock replaced) sign the SAME bytes as the
// browser; the storage service's and custodians' verifier (crypto/statements) accepts the
// browser's statements for their type and key and refuses altered ones. The validity is never
// longer than what the technician asked.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fromUtf8 } from "../src/crypto/bytes";
import { Ed25519SigningKey } from "../src/crypto/ed25519";
import {
  consentBody,
  ConsentInputError,
  consentState,
  envelopeJson,
  newConsentId,
  requestState,
  signConsent,
  signRevocation,
  statementHashHex,
  validitySeconds,
  type ConsentRecord,
  type ConsentRequest,
} from "../src/portal/site/consents";
import { REPO_ROOT } from "./vectors";

const PYTHON = join(REPO_ROOT, ".venv", "bin", "python");
const skip = process.env.CAMVAULT_WEB_NO_PYTHON === "1";
if (!skip && !existsSync(PYTHON))
  throw new Error(`${PYTHON} not found: run make install first, or set CAMVAULT_WEB_NO_PYTHON=1`);

function python(input: unknown): any {
  const out = execFileSync(PYTHON, ["-c", CLI_HARNESS], {
    cwd: REPO_ROOT,
    env: { ...process.env, PYTHONPATH: REPO_ROOT },
    input: JSON.stringify(input),
    encoding: "utf8",
  });
  return JSON.parse(out);
}

// The customer CLI's approve() and revoke() run for real, with a stand-in for the state
// directory (its site key, site id, remember/save) and for the storage service (records what
// would be posted), the clock and the random consent id fixed.
const CLI_HARNESS = `
import json, sys
from contextlib import contextmanager
import clients.customer.consents as cc
from crypto.ed25519 import Ed25519SigningKey, Ed25519PublicKey
from crypto.statements import Consent, Revocation, parse_signed, verify

msg = json.load(sys.stdin)
mode = msg["mode"]
if mode == "generate":
    print(json.dumps({"key": Ed25519SigningKey.generate().to_text()})); sys.exit()
if mode == "verify":
    key, other = Ed25519PublicKey.from_text(msg["key"]), Ed25519PublicKey.from_text(msg["other_key"])
    out = []
    for it in msg["items"]:
        try:
            t = {"consent": Consent, "revocation": Revocation}[it["type"]]
            verify(parse_signed(it["text"].encode()), other if it.get("wrong_key") else key, t)
            out.append("ok")
        except Exception as e:
            out.append(type(e).__name__)
    print(json.dumps(out)); sys.exit()

posted, remembered = {}, []
class Storage:
    def consent_requests(self, site_id, pending_only=False): return [msg["request"]]
    def grant_consent(self, site_id, signed, request_id):
        posted.update({"consent": signed.to_json(), "request_id": request_id}); posted["_s"] = signed
        return {"consent_id": signed.unverified_statement.consent_id}
    def revoke(self, site_id, signed):
        posted.update({"revocation": signed.to_json()}); posted["_s"] = signed
class State:
    class config: custodians = []
    def site(self): return ("http://storage.invalid", msg["site_id"])
    def site_key(self): return Ed25519SigningKey.from_text(msg["key"])
    @contextmanager
    def storage(self): yield Storage()
    def remember(self, signed): remembered.append(signed.statement_hash().hex())
    def save(self): pass
cc.now_ms = lambda: msg["now_ms"]
cc.secrets.token_hex = lambda n: msg["token_hex"]
if mode == "approve":
    cc.approve(State(), msg["request"]["request_id"], valid_for_s=msg["valid_for_s"])
else:
    cc.revoke(State(), msg["consent_id"])
signed = posted.pop("_s")
print(json.dumps({"encoded": signed.encode().decode(), "hash": signed.statement_hash().hex(),
                  "posted": posted, "remembered": remembered}))
`;

const NOW = 1_765_000_000_000;
const request: ConsentRequest = {
  request_id: "0123456789abcdef0123456789abcdef",
  site_id: "site-x",
  operator_id: "tech-3",
  cameras: ["cam-1", "cam-2"],
  scope: ["recordings", "stills"],
  recordings_from_ms: NOW - 3_600_000,
  recordings_to_ms: NOW - 60_000,
  duration_s: 600,
  reason: "camera 1 loses focus at night",
  created_ms: NOW - 10_000,
  state: "pending",
  decided_ms: null,
  consent_id: null,
  refusal_reason: null,
};

describe("validitySeconds", () => {
  it("is what was asked, or shorter; never longer; never zero, negative or fractional", () => {
    expect(validitySeconds(600)).toBe(600);
    expect(validitySeconds(600, 120)).toBe(120);
    expect(validitySeconds(600, 601)).toBe(600);
    expect(validitySeconds(600, 10 ** 9)).toBe(600);
    for (const bad of [0, -1, 1.5, NaN, Infinity]) expect(() => validitySeconds(600, bad)).toThrow(ConsentInputError);
  });
});

describe("consentBody", () => {
  it("names exactly what the request asks, from 5 s ago for the chosen time", () => {
    const b = consentBody(request, "site-x", NOW, "consent-00112233aabbccdd", 120);
    expect(b).toEqual({
      consent_id: "consent-00112233aabbccdd",
      site_id: "site-x",
      grantee_id: "tech-3",
      grantee_key: null,
      cameras: ["cam-1", "cam-2"],
      scope: ["recordings", "stills"],
      recordings_from_ms: request.recordings_from_ms,
      recordings_to_ms: request.recordings_to_ms,
      not_before_ms: NOW - 5_000,
      not_after_ms: NOW + 120_000,
      purpose: "maintenance",
      issued_at_ms: NOW,
    });
    expect(consentBody(request, "site-x", NOW, "c-1", 9_999).not_after_ms).toBe(NOW + 600_000);
  });

  it("consent ids are the CLI's form and random", () => {
    const a = newConsentId();
    expect(a).toMatch(/^consent-[0-9a-f]{16}$/);
    expect(newConsentId()).not.toBe(a);
  });
});

describe("states", () => {
  const fmt = (ms: number): string => String(ms);
  const consent = (over: Partial<ConsentRecord>): ConsentRecord => ({
    site_id: "site-x",
    consent_id: "c-1",
    request_id: request.request_id,
    grantee_id: "tech-3",
    not_before_ms: NOW - 5_000,
    not_after_ms: NOW + 600_000,
    created_ms: NOW,
    revoked: false,
    revoked_ms: null,
    consent: {},
    revocation: null,
    ...over,
  });
  it("approved until, expired, revoked, not yet valid; requests follow their consent", () => {
    expect(consentState(consent({}), NOW, fmt)).toEqual({ state: "approved", text: `approved until ${NOW + 600_000}` });
    expect(consentState(consent({}), NOW + 600_000, fmt).state).toBe("expired");
    expect(consentState(consent({ revoked: true, revoked_ms: NOW + 1 }), NOW, fmt)).toEqual({
      state: "revoked",
      text: `revoked at ${NOW + 1}`,
    });
    expect(consentState(consent({ not_before_ms: NOW + 1 }), NOW, fmt).state).toBe("not yet valid");
    const byId = new Map([["c-1", consent({ revoked: true, revoked_ms: NOW })]]);
    expect(requestState(request, byId, NOW, fmt).state).toBe("pending");
    expect(requestState({ ...request, state: "approved", consent_id: "c-1" }, byId, NOW, fmt).state).toBe("revoked");
    expect(requestState({ ...request, state: "refused", refusal_reason: "not now" }, byId, NOW, fmt)).toEqual({
      state: "refused",
      text: "refused: not now",
    });
  });
});

describe.skipIf(skip)("the same bytes as the customer CLI (clients/customer/consents.py)", () => {
  const keyText: string = python({ mode: "generate" }).key;
  const site = "site-x";

  it("approve: the browser's Consent is byte for byte the CLI's, and the verifier accepts it", () => {
    const signingKey = Ed25519SigningKey.fromText(keyText);
    for (const validFor of [undefined, 120, 601]) {
      const consentId = "consent-00112233aabbccdd";
      const browser = signConsent(consentBody(request, site, NOW, consentId, validFor), signingKey);
      const cli = python({
        mode: "approve",
        key: keyText,
        site_id: site,
        request,
        now_ms: NOW,
        token_hex: "00112233aabbccdd",
        valid_for_s: validFor ?? null,
      });
      expect(fromUtf8(browser.encoded)).toBe(cli.encoded);
      expect(statementHashHex(browser)).toBe(cli.hash);
      // what the CLI would post ("consent" member) is what the browser posts
      expect(envelopeJson(browser)).toEqual(cli.posted.consent);
      expect(cli.posted.request_id).toBe(request.request_id);
      expect(cli.remembered).toEqual([cli.hash]);
    }
  });

  it("revoke: the same Revocation bytes, posted the same way", () => {
    const signingKey = Ed25519SigningKey.fromText(keyText);
    const browser = signRevocation(site, "consent-00112233aabbccdd", NOW, signingKey);
    const cli = python({
      mode: "revoke",
      key: keyText,
      site_id: site,
      consent_id: "consent-00112233aabbccdd",
      now_ms: NOW,
    });
    expect(fromUtf8(browser.encoded)).toBe(cli.encoded);
    expect(statementHashHex(browser)).toBe(cli.hash);
    expect({ revocation: envelopeJson(browser) }).toEqual(cli.posted);
  });

  it("the verifier accepts the browser's statements for their key and type only, and refuses altered ones", () => {
    const signingKey = Ed25519SigningKey.fromText(keyText);
    const consent = fromUtf8(signConsent(consentBody(request, site, NOW, "consent-1", 300), signingKey).encoded);
    const revocation = fromUtf8(signRevocation(site, "consent-1", NOW, signingKey).encoded);
    const other = Ed25519SigningKey.generate().publicKey.toText();
    const res = python({
      mode: "verify",
      key: signingKey.publicKey.toText(),
      other_key: other,
      items: [
        { text: consent, type: "consent" },
        { text: revocation, type: "revocation" },
        { text: consent, type: "revocation" },
        { text: consent, type: "consent", wrong_key: true },
        { text: consent.replace('"cameras":["cam-1","cam-2"]', '"cameras":["cam-1","cam-3"]'), type: "consent" },
        {
          text: consent.replace(`"not_after_ms":${NOW + 300_000}`, `"not_after_ms":${NOW + 600_000}`),
          type: "consent",
        },
      ],
    });
    expect(res).toEqual(["ok", "ok", "StatementError", "SignatureError", "SignatureError", "SignatureError"]);
  });
});
