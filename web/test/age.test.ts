// tests/vectors/age.json against the age-encryption library through src/crypto/age.ts, plus
// files from the reference `age` CLI and age-encryption's own post-quantum hybrid identities.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { Encrypter } from "age-encryption";
import { afterAll, describe, expect, it } from "vitest";
import {
  decryptRecording,
  decryptRecordingStream,
  encryptWithPassphrase,
  fileKeyFromHeader,
  generateHybridIdentity,
  identityToRecipient,
} from "../src/crypto/age";
import { MAX_STANZAS, parseHeader, splitFile, headerMacMatches } from "../src/crypto/ageheader";
import { concat, fromHex, toHex, utf8 } from "../src/crypto/bytes";
import { AgeError } from "../src/crypto/errors";
import { flip, loadVectors, named } from "./vectors";

const V = loadVectors("age.json");
const CHUNK = 64 * 1024;

/** gen_age.py's plaintext: byte i is i mod 251. */
const pattern = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => i % 251);

/**
 * An independent STREAM encoder (C2SP age, "Payload"), used to rebuild the vectors too large
 * to be stored in full: key = HKDF-SHA-256(file key, nonce, "payload"), 64 KiB chunks,
 * ChaCha20-Poly1305 with an 11-byte big-endian counter and a last-chunk flag byte.
 */
function streamPayload(fileKey: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const key = hkdf(sha256, fileKey, nonce, utf8("payload"), 32);
  const parts: Uint8Array[] = [nonce];
  let counter = 0;
  for (let off = 0; ; off += CHUNK, counter++) {
    const chunk = plaintext.subarray(off, off + CHUNK);
    const last = off + CHUNK >= plaintext.length;
    const n = new Uint8Array(12);
    new DataView(n.buffer).setUint32(7, counter);
    n[11] = last ? 1 : 0;
    parts.push(chacha20poly1305(key, n).encrypt(chunk));
    if (last) return concat(...parts);
  }
}

function fileOf(v: any): Uint8Array {
  if (v.file_hex) return fromHex(v.file_hex);
  return concat(
    utf8(v.header),
    streamPayload(fromHex(v.file_key), fromHex(v.payload_nonce), pattern(v.plaintext_size)),
  );
}

const keysOf = (v: any) => (v.passphrase ? { passphrases: [v.passphrase] } : { identities: v.identities });

describe.each(named(V.vectors))("age vector %s", (_n, v: any) => {
  const file = fileOf(v);

  it("the file is the vector's, byte for byte, and splits into its header", () => {
    expect(toHex(sha256(file))).toBe(v.file_sha256);
    expect(file.length).toBe(v.file_size);
    expect(new TextDecoder().decode(splitFile(file).header)).toBe(v.header);
    expect(headerMacMatches(parseHeader(file), fromHex(v.file_key))).toBe(true);
  });

  it("age-encryption decrypts it (binary and armored) with each key, and with the file key", async () => {
    const plain = await decryptRecording(file, keysOf(v));
    expect(plain.length).toBe(v.plaintext_size);
    expect(toHex(sha256(plain))).toBe(v.plaintext_sha256);
    if (v.armored) expect(toHex(sha256(await decryptRecording(utf8(v.armored), keysOf(v))))).toBe(v.plaintext_sha256);
    for (const id of v.identities ?? []) {
      expect(toHex(sha256(await decryptRecording(file, { identities: [id] })))).toBe(v.plaintext_sha256);
    }
    expect(toHex(sha256(await decryptRecording(file, { fileKey: fromHex(v.file_key) })))).toBe(v.plaintext_sha256);
    expect(toHex(await fileKeyFromHeader(splitFile(file).header, keysOf(v)))).toBe(v.file_key);
    for (const [i, r] of (v.recipients ?? []).entries()) expect(await identityToRecipient(v.identities[i])).toBe(r);
  });

  it("streams to the same plaintext", async () => {
    const stream = await decryptRecordingStream(new Blob([Uint8Array.from(file)]).stream(), keysOf(v));
    const plain = new Uint8Array(await new Response(stream).arrayBuffer());
    expect(toHex(sha256(plain))).toBe(v.plaintext_sha256);
  });

  it("refuses a flipped payload byte, a flipped MAC, a truncated file and the wrong key", async () => {
    const headerLen = splitFile(file).header.length;
    await expect(decryptRecording(flip(file, file.length - 1), keysOf(v))).rejects.toThrow(AgeError);
    await expect(decryptRecording(flip(file, headerLen + 20), keysOf(v))).rejects.toThrow(AgeError);
    // Another valid base64 character in the MAC: a well-formed header whose MAC is wrong.
    const macChar = headerLen - 5;
    const otherMac = Uint8Array.from(file);
    otherMac[macChar] = file[macChar] === 0x41 ? 0x42 : 0x41;
    await expect(decryptRecording(otherMac, keysOf(v))).rejects.toThrow(/MAC|mac/);
    await expect(decryptRecording(file.subarray(0, file.length - 1), keysOf(v))).rejects.toThrow(AgeError);
    await expect(decryptRecording(file, { fileKey: flip(fromHex(v.file_key), 0) })).rejects.toThrow(/MAC|mac/);
    const wrong = v.passphrase
      ? { passphrases: ["not the passphrase"] }
      : { identities: [V.vectors[0].identities[0].replace(/.{6}$/, "QQQQQQ")] };
    await expect(decryptRecording(file, wrong)).rejects.toThrow(AgeError);
  });
});

describe("files from other age implementations", () => {
  const dir = mkdtempSync(join(tmpdir(), "camvault-web-age-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("a file encrypted by the reference age CLI (two recipients, armored and not)", async () => {
    const keygen = execFileSync("age-keygen", [], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    const identity = keygen.split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-1"))!;
    const other = (await import("age-encryption")).generateX25519Identity();
    const plaintext = pattern(200_000);
    writeFileSync(join(dir, "plain"), plaintext);
    for (const armor of [[], ["--armor"]]) {
      execFileSync("age", [
        ...armor,
        "-r",
        await identityToRecipient(identity),
        "-r",
        await identityToRecipient(await other),
        "-o",
        join(dir, "enc"),
        join(dir, "plain"),
      ]);
      const enc = new Uint8Array(readFileSync(join(dir, "enc")));
      expect(toHex(await decryptRecording(enc, { identities: [identity] }))).toBe(toHex(plaintext));
      expect(toHex(await decryptRecording(enc, { identities: [await other] }))).toBe(toHex(plaintext));
    }
  });

  it("a file age-encryption writes for an X25519 recipient opens with the age CLI", async () => {
    const keygen = execFileSync("age-keygen", [], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    writeFileSync(join(dir, "key.txt"), keygen);
    const identity = keygen.split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-1"))!;
    const e = new Encrypter();
    e.addRecipient(await identityToRecipient(identity));
    writeFileSync(join(dir, "ts.age"), await e.encrypt(pattern(70_000)));
    const out = execFileSync("age", ["-d", "-i", join(dir, "key.txt"), join(dir, "ts.age")]);
    expect(toHex(new Uint8Array(out))).toBe(toHex(pattern(70_000)));
  });

  it("the passphrase (scrypt) recipient: what the identity store in IndexedDB uses", async () => {
    const enc = await encryptWithPassphrase("identity file contents", "correct horse", 10);
    expect(new TextDecoder().decode(enc.subarray(0, 40))).toMatch(/^age-encryption.org\/v1\n-> scrypt /);
    expect(new TextDecoder().decode(await decryptRecording(enc, { passphrases: ["correct horse"] }))).toBe(
      "identity file contents",
    );
    await expect(decryptRecording(enc, { passphrases: ["wrong"] })).rejects.toThrow(AgeError);
  });

  it("post-quantum hybrid identities (age1pq1...) decrypt", async () => {
    const identity = await generateHybridIdentity();
    const e = new Encrypter();
    e.addRecipient(await identityToRecipient(identity));
    const enc = await e.encrypt(pattern(1000));
    expect(toHex(await decryptRecording(enc, { identities: [identity] }))).toBe(toHex(pattern(1000)));
    expect(parseHeader(enc).stanzas[0]!.type).toBe("mlkem768x25519");
  });
});

describe("post-quantum hybrid files between camvault's Python (crypto/age/mlkem.py) and age-encryption", () => {
  const dir = mkdtempSync(join(tmpdir(), "camvault-web-pq-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const camvault = join(__dirname, "..", "..", ".venv", "bin", "camvault");
  const run = (args: string[]): Buffer => execFileSync(camvault, args, { stdio: ["ignore", "pipe", "pipe"] });

  it("camvault keygen --pq: files camvault writes open here, files written here open in camvault", async () => {
    run(["keygen", "--pq", "-o", join(dir, "pq.txt")]);
    const identity = readFileSync(join(dir, "pq.txt"), "utf8")
      .split("\n")
      .find((l) => l.startsWith("AGE-SECRET-KEY-PQ-1"))!;
    const recipient = await identityToRecipient(identity);
    expect(
      run(["keygen", "-y", join(dir, "pq.txt")])
        .toString()
        .trim(),
    ).toBe(recipient);
    for (const size of [0, CHUNK - 1, CHUNK, CHUNK + 1]) {
      writeFileSync(join(dir, "plain"), pattern(size));
      for (const armor of [[], ["--armor"]]) {
        run(["encrypt", ...armor, "-r", recipient, "-o", join(dir, "py.age"), join(dir, "plain")]);
        const armored = readFileSync(join(dir, "py.age")).subarray(0, 34).toString("latin1");
        expect(armored === "-----BEGIN AGE ENCRYPTED FILE-----").toBe(armor.length > 0);
        const enc = new Uint8Array(readFileSync(join(dir, "py.age")));
        expect(toHex(await decryptRecording(enc, { identities: [identity] }))).toBe(toHex(pattern(size)));
      }
      const e = new Encrypter();
      e.addRecipient(recipient);
      writeFileSync(join(dir, "ts.age"), await e.encrypt(pattern(size)));
      const out = run(["decrypt", "-i", join(dir, "pq.txt"), join(dir, "ts.age")]);
      expect(toHex(new Uint8Array(out))).toBe(toHex(pattern(size)));
    }
  });
});

describe("the header's stanza cap (header_too_many_stanzas, as crypto/age/format.py)", () => {
  const header = (n: number): Uint8Array =>
    utf8("age-encryption.org/v1\n" + "-> x\n\n".repeat(n) + "--- " + "A".repeat(43) + "\n");

  it("128 stanzas parse, 129 are refused before the 129th is read", () => {
    expect(MAX_STANZAS).toBe(128);
    expect(parseHeader(header(128)).stanzas.length).toBe(128);
    expect(() => parseHeader(header(129))).toThrow(/more than 128 stanzas \(header_too_many_stanzas\)/);
    // 100,000 tiny stanzas (under 1 MiB): refused at the cap, the rest never looked at
    const big = utf8("age-encryption.org/v1\n" + "-> x\n\n".repeat(100_000));
    expect(() => parseHeader(concat(big, utf8("\x00 not even valid after the cap")))).toThrow(
      /header_too_many_stanzas/,
    );
  });
});
