"""camvault's signed statements: typed bodies, the signed envelope, and the manifest chain.

Specified in docs/FORMAT.md part 3. In short:

- every statement type has a domain ``camvault/v1/<name>`` (the version is part of it);
- a signed statement's wire form is the RFC 8785 canonical JSON of the envelope
  ``{"body": {...}, "sig": <base64url>, "signer": "ed25519:<base64url>", "type": <domain>}``;
- the Ed25519 signature (RFC 8032) covers
  ``domain || "\\n" || canonical_json({"body": ..., "signer": ..., "type": ...})``,
  that is the whole envelope except the signature, so the signer's key and the type are signed
  too (no key substitution, no cross-type reuse);
- parsing is strict: exact field sets, exact JSON types (no bool for int, no floats), bounded
  values, and the input bytes must be the canonical encoding; every refusal is a
  :class:`~crypto.errors.StatementError` saying which field is wrong and why;
- a statement hash is SHA-256 of the full canonical envelope (signature included).

Parsing never checks a signature; :func:`verify` does, under the key the caller expects.

Modules: :mod:`~crypto.statements.fields` (the strict member checks),
:mod:`~crypto.statements.bodies` (one declaration per statement type),
:mod:`~crypto.statements.envelope` (sign, parse, verify), :mod:`~crypto.statements.chain` (a
camera's manifest chain). Their public names are re-exported here.
"""

from crypto.statements.bodies import (
    DOMAIN_PREFIX,
    MAX_CONSENT_CAMERAS,
    MAX_CONSENT_VALIDITY_MS,
    MAX_DELETION_RECORDINGS,
    MAX_HEAD_INTERVAL_S,
    MAX_POST_ALARM_S,
    MAX_PRE_ALARM_S,
    MAX_RECIPIENTS,
    MAX_RETENTION_DAYS,
    STATEMENT_TYPES,
    AlarmCancel,
    AlarmClose,
    AlarmEvent,
    AlarmType,
    CameraProfile,
    ChainHead,
    Consent,
    ConsentScope,
    Custodian,
    DeviceEnrollment,
    DeviceKind,
    DeviceRevocation,
    Manifest,
    OperatorRegistration,
    OperatorRole,
    Purpose,
    RecordingDeletion,
    RetentionPolicy,
    Revocation,
    SiteKeys,
    Statement,
)
from crypto.statements.chain import (
    ChainAnchor,
    ChainProblem,
    ChainProblemKind,
    manifest_hash,
    verify_chain,
)
from crypto.statements.devices import DeviceKeys
from crypto.statements.envelope import (
    MAX_STATEMENT_SIZE,
    SignedStatement,
    parse_signed,
    sign_statement,
    verify,
    verify_site_keys,
)
from crypto.statements.fields import (
    MAX_COUNTER,
    MAX_TEXT_LEN,
    MAX_URL_LEN,
    parse_age_recipient,
)

__all__ = [
    "DOMAIN_PREFIX",
    "MAX_CONSENT_CAMERAS",
    "MAX_CONSENT_VALIDITY_MS",
    "MAX_COUNTER",
    "MAX_DELETION_RECORDINGS",
    "MAX_HEAD_INTERVAL_S",
    "MAX_POST_ALARM_S",
    "MAX_PRE_ALARM_S",
    "MAX_RECIPIENTS",
    "MAX_RETENTION_DAYS",
    "MAX_STATEMENT_SIZE",
    "MAX_TEXT_LEN",
    "MAX_URL_LEN",
    "STATEMENT_TYPES",
    "AlarmCancel",
    "AlarmClose",
    "AlarmEvent",
    "AlarmType",
    "CameraProfile",
    "ChainAnchor",
    "ChainHead",
    "ChainProblem",
    "ChainProblemKind",
    "Consent",
    "ConsentScope",
    "Custodian",
    "DeviceEnrollment",
    "DeviceKeys",
    "DeviceKind",
    "DeviceRevocation",
    "Manifest",
    "OperatorRegistration",
    "OperatorRole",
    "Purpose",
    "RecordingDeletion",
    "RetentionPolicy",
    "Revocation",
    "SignedStatement",
    "SiteKeys",
    "Statement",
    "manifest_hash",
    "parse_age_recipient",
    "parse_signed",
    "sign_statement",
    "verify",
    "verify_chain",
    "verify_site_keys",
]
