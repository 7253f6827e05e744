export * from "./envelope";
export { BODY_TYPES, checkBody, DOMAIN_PREFIX, STATEMENT_TYPES, MAX_CONSENT_VALIDITY_MS } from "./bodies";
