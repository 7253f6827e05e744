export * from "./shamir";
export * from "./stanza";
export * from "./release";
export { x25519Shared, x25519PublicKey } from "./seal";
