// The crypto core of the camvault web app: pure modules (no DOM, no network), each mirroring
// a module of the Python crypto/ package and checked against tests/vectors/.
export * as base64 from "./base64";
export * as bytes from "./bytes";
export * as canonical from "./canonical";
export * as ed25519 from "./ed25519";
export * as errors from "./errors";
export * as httpsig from "./httpsig";
export * as signedrequest from "./signedrequest";
export * as statements from "./statements/index";
export * as escrow from "./escrow/index";
export * as merkle from "./tlog/merkle";
export * as note from "./tlog/note";
export * as age from "./age";
export * as ageheader from "./ageheader";
export * as metadata from "./metadata";
export * as bech32 from "./bech32";
