// Signatures that a cofactored verifier (noble's ed25519.verify) accepts but libsodium,
// OpenSSL and Go refuse: R carries a component of order 8. Built with the signer's secret
// scalar, as a malicious key holder (a custodian signing split views) could.
import { ED25519_TORSION_SUBGROUP, ed25519 } from "@noble/curves/ed25519.js";
import { bytesToNumberLE } from "@noble/curves/utils.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { concat } from "../src/crypto/bytes";

const le32 = (n: bigint): Uint8Array => Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn));

/** R = rB + T (T of order 8), S = r + k*a: [8]SB = [8]R + [8]kA holds, SB - kA = R does not. */
export function mixedOrderSignature(seed: Uint8Array, message: Uint8Array): Uint8Array {
  const Fn = ed25519.Point.Fn;
  const { scalar, pointBytes } = ed25519.utils.getExtendedPublicKey(seed);
  const r = 123456789n;
  const R = ed25519.Point.BASE.multiply(r).add(ed25519.Point.fromHex(ED25519_TORSION_SUBGROUP[1]!)).toBytes();
  const k = Fn.create(bytesToNumberLE(sha512(concat(R, pointBytes, message))));
  return concat(R, le32(Fn.add(r, Fn.mul(k, scalar))));
}

/** R of order 8 and S = k*a: the cofactored equation holds for any message. */
export function smallOrderSignature(seed: Uint8Array, message: Uint8Array): Uint8Array {
  const Fn = ed25519.Point.Fn;
  const { scalar, pointBytes } = ed25519.utils.getExtendedPublicKey(seed);
  const R = ed25519.Point.fromHex(ED25519_TORSION_SUBGROUP[1]!).toBytes();
  const k = Fn.create(bytesToNumberLE(sha512(concat(R, pointBytes, message))));
  return concat(R, le32(Fn.mul(k, scalar)));
}
