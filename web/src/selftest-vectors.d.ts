// The self-test's fixed inputs, made at build time from ../tests/vectors by vite.config.ts.
declare module "virtual:selftest-vectors" {
  const vectors: {
    age: { file_hex: string; identity: string; plaintext_sha256: string };
    checkpoint: { signed_note: string; verifier_key: string; origin: string; root_hex: string; size: string };
  };
  export default vectors;
}
