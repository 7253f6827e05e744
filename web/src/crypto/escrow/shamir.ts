// Shamir secret sharing over GF(2^8) (mirrors crypto/escrow/shamir.py; docs/FORMAT.md part 2
// section 1). The field uses the AES polynomial x^8 + x^4 + x^3 + x + 1 (0x11B, FIPS-197
// section 4). Multiplication is branch-free shift-and-add with masks and no tables (a table
// indexed by a secret byte is a cache-timing channel); only public x-coordinates are inverted.
//
// Share encoding (section 1.3): version (0x01) || threshold || x || y.

import { ShareError } from "../errors";

export const SHARE_VERSION = 0x01;
const HEADER_SIZE = 3;

export interface Share {
  x: number;
  threshold: number;
  y: Uint8Array;
}

/** a * b in GF(2^8): eight rounds of "add a if the low bit of b is set; a *= x" (masks). */
export function gfMul(a: number, b: number): number {
  let r = 0;
  for (let i = 0; i < 8; i++) {
    r ^= -(b & 1) & a;
    const carry = -((a >> 7) & 1) & 0x1b;
    a = ((a << 1) & 0xff) ^ carry;
    b >>= 1;
  }
  return r & 0xff;
}

/** a^254 = a^-1 for a != 0 (public values only). */
function gfInv(a: number): number {
  let result = 1;
  let base = a;
  for (let e = 254; e > 0; e >>= 1) {
    if (e & 1) result = gfMul(result, base);
    base = gfMul(base, base);
  }
  return result;
}

export function decodeShare(data: Uint8Array): Share {
  if (data.length <= HEADER_SIZE) throw new ShareError("share encoding too short");
  if (data[0] !== SHARE_VERSION) throw new ShareError(`unknown share encoding version ${data[0]}`);
  const threshold = data[1]!;
  const x = data[2]!;
  if (x === 0) throw new ShareError("share x-coordinate must not be 0");
  if (threshold === 0) throw new ShareError("share threshold must be at least 1");
  return { x, threshold, y: data.slice(HEADER_SIZE) };
}

export function encodeShare(s: Share): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE + s.y.length);
  out.set([SHARE_VERSION, s.threshold, s.x]);
  out.set(s.y, HEADER_SIZE);
  return out;
}

/**
 * The secret from at least `threshold` shares: Lagrange interpolation at 0 (section 1.4). All
 * given shares are used; a wrong result is caught by the caller (the age header MAC).
 */
export function combine(shares: readonly Share[]): Uint8Array {
  const first = shares[0];
  if (first === undefined) throw new ShareError("no shares given");
  if (shares.some((s) => s.threshold !== first.threshold))
    throw new ShareError("shares were split with different thresholds");
  if (shares.some((s) => s.y.length !== first.y.length)) throw new ShareError("shares have different lengths");
  const xs = shares.map((s) => s.x);
  if (new Set(xs).size !== xs.length) throw new ShareError("duplicate share x-coordinate");
  if (shares.length < first.threshold)
    throw new ShareError(
      `too few shares: ${shares.length} given, threshold is ${first.threshold} (fewer shares would interpolate to an unrelated value)`,
    );
  // l_i(0) = prod_{j != i} x_j / (x_j - x_i); minus is XOR in GF(2^8).
  const basis = xs.map((xi, i) => {
    let num = 1;
    let den = 1;
    xs.forEach((xj, j) => {
      if (j !== i) {
        num = gfMul(num, xj);
        den = gfMul(den, xj ^ xi);
      }
    });
    return gfMul(num, gfInv(den));
  });
  const out = new Uint8Array(first.y.length);
  shares.forEach((s, i) => {
    for (let k = 0; k < out.length; k++) out[k] = out[k]! ^ gfMul(s.y[k]!, basis[i]!);
  });
  return out;
}
