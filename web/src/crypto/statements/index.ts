export * from "./envelope";
export * from "./siteid";
export * from "./chain";
export {
  BODY_TYPES,
  checkBody,
  DOMAIN_PREFIX,
  STATEMENT_TYPES,
  MAX_CONSENT_VALIDITY_MS,
  MAX_HEAD_INTERVAL_S,
} from "./bodies";
