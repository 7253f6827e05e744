"""Set up a MinIO deployment's object store for the storage service (`camvault admin s3-setup`).

Each step reads what is there and changes only what differs, so a second run changes nothing:

- the bucket, with **versioning** enabled: an overwrite or a delete made with the storage
  service's credentials (or by whoever stole them) leaves the previous version behind, which
  only the administrator can read back, restore or remove;
- its **lifecycle**: noncurrent versions expire after ``noncurrent_days`` (a deleted or
  replaced payload is then gone for good; deleting its header had already made it unreadable,
  this is crypto-shredding) and delete markers left with no version behind are removed. Rules
  of other ids, added by the operator, are kept;
- **stale multipart uploads**: MinIO does not implement the lifecycle action
  AbortIncompleteMultipartUpload (its parser drops the element, and a rule with only that
  action is refused as malformed; tests/deploy/test_s3_setup.py checks both on the pinned
  MinIO). MinIO instead removes every multipart upload older than its server setting
  ``api stale_uploads_expiry`` (default 24h, looked for every ``stale_uploads_cleanup_interval``,
  default 6h): the setup lowers that setting to one day when it is longer;
- the policy ``<bucket>-storage`` (:func:`storage_policy`, the same as
  deploy/storage-policy.json): get/put/delete of objects, multipart uploads and listing, on this
  bucket only; denied: deleting a version, and reading one (MinIO would allow both with
  s3:DeleteObject and s3:GetObject, see :func:`storage_policy`), so the storage credentials
  cannot destroy or read old versions; no bucket administration (versioning, lifecycle, policy,
  creating or deleting buckets). MinIO does let them list versions (names and sizes);
- the storage service's user (``CAMVAULT_S3_ACCESS_KEY``/``CAMVAULT_S3_SECRET_KEY``), enabled,
  with that policy and no other, in no group; its secret key is set again when it no longer
  matches, and the setup ends by using these credentials on the bucket.

**Object lock is not enabled**, on purpose. A locked object version cannot be deleted by anyone
until its retention ends (in compliance mode not even by the root user). camvault promises that
a customer's delete and a site's retention remove the payload (the sweeper's deletion queue,
then this lifecycle): object lock would keep every payload for the lock period whatever the
customer asked. It can also only be chosen when the bucket is created, and never turned off.
Versioning, with a user who cannot delete versions, gives the protection that matters (stolen
storage credentials cannot destroy recordings for ``noncurrent_days``) without that conflict.
A bucket that already has object lock is refused.

This is MinIO's setup: the user and the policy go through MinIO's admin API (the Apache-2.0
``minio`` SDK, not the AGPL ``mc`` program). On AWS S3 the same posture is infra/terraform's.
Secrets come from the environment (the image's entrypoint turns Docker secret files into
variables) and appear in no message.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from minio.minioadmin import MinioAdmin
    from mypy_boto3_s3.client import S3Client

#: MinIO's own limits on user credentials (cmd/iam.go: 3+ and 8-40 characters).
SECRET_KEY_LENGTH = (8, 40)
#: The lifecycle rule this setup owns (other rules of the bucket are kept).
RULE_ID = "camvault-noncurrent-versions"
#: What AbortIncompleteMultipartUpload would have been: uploads older than this go.
STALE_UPLOADS_EXPIRY_S = 24 * 3600
_AUTH_CODES = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "XMinioInvalidIAMCredentials"}
)
_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


class SetupError(Exception):
    """What stopped the setup, in one line that names the step and never a secret."""


class S3SetupSettings(BaseSettings):
    """The store and the two identities: the administrator's (MinIO's root user or an admin
    user), used only here, and the storage service's, which the setup creates."""

    model_config = SettingsConfigDict(env_prefix="CAMVAULT_S3_", env_file=".env", extra="ignore")

    endpoint: str = Field(description="MinIO's S3 API, e.g. http://minio1:9000")
    region: str = "us-east-1"
    bucket: str = "camvault"
    access_key: str = Field(min_length=3, description="the storage service's user")
    secret_key: SecretStr
    admin_access_key: str = Field(min_length=3, description="MinIO's root (or an admin) user")
    admin_secret_key: SecretStr

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        url = urlsplit(value)
        if url.scheme not in ("http", "https") or not url.netloc or url.path not in ("", "/"):
            raise ValueError("should be http(s)://host[:port]")
        return f"{url.scheme}://{url.netloc}"

    @field_validator("secret_key")
    @classmethod
    def _secret_length(cls, value: SecretStr) -> SecretStr:
        low, high = SECRET_KEY_LENGTH
        if not low <= len(value.get_secret_value()) <= high:
            raise ValueError(f"MinIO needs {low} to {high} characters")
        return value


def storage_policy(bucket: str) -> dict[str, Any]:
    """The storage service's policy on ``bucket`` (MinIO's dialect; on AWS S3 use
    infra/terraform's). It allows what storage_service/blobstore/s3.py uses: HeadBucket and
    ListObjectsV2 need s3:ListBucket; HeadObject and CopyObject's source need s3:GetObject; the
    multipart calls other than abort and listing parts need s3:PutObject.

    MinIO lets s3:DeleteObject and s3:GetObject act on any version of an object unless a Deny
    says otherwise (cmd/auth-handler.go checks s3:DeleteObjectVersion only as a Deny), hence the
    two Deny statements: no version is deleted, and no GET, HEAD or copy names a version (the
    ``s3:versionid`` condition value is empty when the request names none). A Deny of
    s3:GetObjectVersion would not do: MinIO then refuses plain GETs too. Listing versions
    (names, sizes, version ids, not content) cannot be refused while s3:ListBucket is allowed:
    MinIO treats s3:ListBucket as granting s3:ListBucketVersions."""
    objects = f"arn:aws:s3:::{bucket}/*"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "CamvaultBucketRead",
                "Effect": "Allow",
                "Action": [
                    "s3:GetBucketLocation",
                    "s3:ListBucket",
                    "s3:ListBucketMultipartUploads",
                ],
                "Resource": [f"arn:aws:s3:::{bucket}"],
            },
            {
                "Sid": "CamvaultObjects",
                "Effect": "Allow",
                "Action": [
                    "s3:AbortMultipartUpload",
                    "s3:DeleteObject",
                    "s3:GetObject",
                    "s3:ListMultipartUploadParts",
                    "s3:PutObject",
                ],
                "Resource": [objects],
            },
            {
                "Sid": "CamvaultNoVersionDeletion",
                "Effect": "Deny",
                "Action": ["s3:DeleteObjectVersion"],
                "Resource": [objects],
            },
            {
                "Sid": "CamvaultNoVersionReads",
                "Effect": "Deny",
                "Action": ["s3:GetObject"],
                "Resource": [objects],
                "Condition": {"StringNotEquals": {"s3:versionid": [""]}},
            },
        ],
    }


def lifecycle_rule(noncurrent_days: int) -> dict[str, Any]:
    """The bucket's lifecycle rule, in boto3's shape (as MinIO reads it back)."""
    return {
        "ID": RULE_ID,
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "NoncurrentVersionExpiration": {"NoncurrentDays": noncurrent_days},
        "Expiration": {"ExpiredObjectDeleteMarker": True},
    }


@dataclass(frozen=True)
class Step:
    subject: str
    result: str
    changed: bool


@dataclass
class Report:
    steps: list[Step] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return sum(s.changed for s in self.steps)

    def add(self, subject: str, result: str, *, changed: bool) -> None:
        self.steps.append(Step(subject, result, changed))

    def render(self, as_json: bool = False) -> str:
        if as_json:
            return json.dumps({"changes": self.changes, "steps": [asdict(s) for s in self.steps]})
        lines = [f"{s.subject}: {s.result}" for s in self.steps]
        done = f"{self.changes} change(s)" if self.changes else "nothing to change"
        return "\n".join([*lines, f"s3-setup: {done}"])


def go_duration_s(text: str) -> float:
    """Seconds of a Go duration as MinIO prints it (``24h``, ``1h30m0s``)."""
    parts = _GO_DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise SetupError(f"MinIO setting api stale_uploads_expiry: not a duration: {text!r}")
    return sum(float(n) * _GO_UNITS[u] for n, u in parts)


def _code(exc: Any) -> str:
    """The error code of a botocore ClientError (HEAD answers have only their status)."""
    code = exc.response.get("Error", {}).get("Code")
    return str(code or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))


def _admin_error(exc: Exception) -> tuple[str, str]:
    """(code, message) of a MinioAdminException: its body is MinIO's JSON error."""
    body = str(getattr(exc, "_body", ""))
    try:
        error = json.loads(body)
        return str(error.get("Code", "")), str(error.get("Message", ""))
    except ValueError:
        return str(getattr(exc, "_code", "")), " ".join(body.split())[:200]


class _Setup:
    def __init__(self, settings: S3SetupSettings, noncurrent_days: int) -> None:
        self.settings = settings
        self.bucket = settings.bucket
        self.policy_name = f"{settings.bucket}-storage"
        self.noncurrent_days = noncurrent_days
        self.report = Report()
        self.root = self._s3(settings.admin_access_key, settings.admin_secret_key)
        self.admin = self._admin()

    # --- clients ---------------------------------------------------------------------------

    def _s3(self, access_key: str, secret_key: SecretStr) -> S3Client:
        import boto3
        from botocore.config import Config

        config = Config(
            region_name=self.settings.region,
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            connect_timeout=5,
            read_timeout=30,
            retries={"max_attempts": 2, "mode": "standard"},
        )
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.settings.endpoint,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key.get_secret_value(),
            config=config,
        )

    def _admin(self) -> MinioAdmin:
        import certifi
        import urllib3
        from minio.credentials.providers import StaticProvider
        from minio.minioadmin import MinioAdmin

        url = urlsplit(self.settings.endpoint)
        # The SDK's default pool waits 5 minutes and retries 5 times: an endpoint that is down
        # should be said within seconds.
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5, read=30),
            retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=[502, 503, 504]),
            cert_reqs="CERT_REQUIRED",
            ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
        )
        secret = self.settings.admin_secret_key.get_secret_value()
        return MinioAdmin(
            endpoint=url.netloc,
            credentials=StaticProvider(self.settings.admin_access_key, secret),
            region=self.settings.region,
            secure=url.scheme == "https",
            http_client=http,
        )

    @contextmanager
    def _step(self, what: str, *, who: str = "CAMVAULT_S3_ADMIN_ACCESS_KEY") -> Iterator[None]:
        """Turn what the store or the network raised while doing ``what`` into one line."""
        import botocore.exceptions as bex
        import urllib3.exceptions
        from minio.error import MinioAdminException

        try:
            yield
        except bex.ClientError as exc:
            error = exc.response.get("Error", {})
            code = _code(exc)
            if code in _AUTH_CODES:
                raise SetupError(f"{what}: the object store refused {who} ({code})") from None
            detail = error.get("Message") or ""
            raise SetupError(f"{what}: {code}" + (f" ({detail})" if detail else "")) from None
        except MinioAdminException as exc:
            code, message = _admin_error(exc)
            if code in _AUTH_CODES:
                raise SetupError(f"{what}: the object store refused {who} ({code})") from None
            if code == "AccessDenied":
                raise SetupError(
                    f"{what}: AccessDenied: {who} is not a MinIO administrator"
                ) from None
            raise SetupError(f"{what}: {code} ({message})") from None
        except (bex.ConnectionError, bex.HTTPClientError, urllib3.exceptions.HTTPError) as exc:
            raise SetupError(
                f"{what}: cannot reach the object store at {self.settings.endpoint} "
                f"(CAMVAULT_S3_ENDPOINT): {type(exc).__name__}"
            ) from None
        except bex.BotoCoreError as exc:
            raise SetupError(f"{what}: {type(exc).__name__}: {exc}") from None

    # --- the steps -------------------------------------------------------------------------

    def run(self) -> Report:
        if self.settings.access_key == self.settings.admin_access_key:
            raise SetupError(
                "CAMVAULT_S3_ACCESS_KEY is the administrator: the storage service needs a "
                "user of its own, with only the bucket's policy"
            )
        with self._step("checking the administrator's credentials"):
            self.root.list_buckets()
        with self._step("checking the administrator's rights"):
            self.admin.policy_list()  # before anything is made: a plain user may list buckets
        self.ensure_bucket()
        self.ensure_versioning()
        self.ensure_lifecycle()
        self.ensure_stale_upload_expiry()
        self.ensure_policy()
        existed = self.ensure_user()
        self.check_storage_credentials(existed)
        return self.report

    def ensure_bucket(self) -> None:
        import botocore.exceptions as bex

        subject = f"bucket {self.bucket}"
        with self._step(f"{subject}: HeadBucket"):
            try:
                self.root.head_bucket(Bucket=self.bucket)
                exists = True
            except bex.ClientError as exc:
                if _code(exc) not in ("404", "NoSuchBucket", "NotFound"):
                    raise
                exists = False
        if not exists:
            kwargs: dict[str, Any] = {}
            if self.settings.region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.settings.region}
            with self._step(f"{subject}: CreateBucket"):
                self.root.create_bucket(Bucket=self.bucket, **kwargs)
            self.report.add(subject, "created (without object lock)", changed=True)
            return
        with self._step(f"{subject}: GetObjectLockConfiguration"):
            try:
                lock = self.root.get_object_lock_configuration(Bucket=self.bucket)
                enabled = lock["ObjectLockConfiguration"].get("ObjectLockEnabled") == "Enabled"
            except bex.ClientError as exc:
                if _code(exc) != "ObjectLockConfigurationNotFoundError":
                    raise
                enabled = False
        if enabled:
            raise SetupError(
                f"{subject} has object lock: locked versions cannot be deleted, which breaks "
                "customers' deletions and retention; use a bucket without object lock"
            )
        self.report.add(subject, "exists (without object lock)", changed=False)

    def ensure_versioning(self) -> None:
        subject = f"bucket {self.bucket} versioning"
        with self._step(f"{subject}: GetBucketVersioning"):
            status = self.root.get_bucket_versioning(Bucket=self.bucket).get("Status")
        if status == "Enabled":
            self.report.add(subject, "enabled", changed=False)
            return
        with self._step(f"{subject}: PutBucketVersioning"):
            self.root.put_bucket_versioning(
                Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"}
            )
        self.report.add(subject, f"enabled (was {status or 'never enabled'})", changed=True)

    def ensure_lifecycle(self) -> None:
        import botocore.exceptions as bex

        subject = f"bucket {self.bucket} lifecycle"
        wanted = lifecycle_rule(self.noncurrent_days)
        with self._step(f"{subject}: GetBucketLifecycleConfiguration"):
            try:
                got = self.root.get_bucket_lifecycle_configuration(Bucket=self.bucket)
                rules: list[Any] = list(got["Rules"])
            except bex.ClientError as exc:
                if _code(exc) != "NoSuchLifecycleConfiguration":
                    raise
                rules = []
        ours = [r for r in rules if r.get("ID") == RULE_ID]
        what = (
            f"noncurrent versions expire after {self.noncurrent_days} day(s), "
            "lone delete markers removed"
        )
        if ours == [wanted]:
            self.report.add(subject, what, changed=False)
            return
        new_rules: list[Any] = [*(r for r in rules if r.get("ID") != RULE_ID), wanted]
        with self._step(f"{subject}: PutBucketLifecycleConfiguration"):
            self.root.put_bucket_lifecycle_configuration(
                Bucket=self.bucket, LifecycleConfiguration={"Rules": new_rules}
            )
        self.report.add(subject, f"set: {what}", changed=True)

    def ensure_stale_upload_expiry(self) -> None:
        subject = "stale multipart uploads (MinIO api stale_uploads_expiry)"
        with self._step("reading MinIO's api configuration"):
            config = self.admin.config_get("api")
        found = re.search(r"(?:^|\s)stale_uploads_expiry=(\S+)", config)
        if found is None:
            raise SetupError("MinIO's api configuration has no stale_uploads_expiry")
        if go_duration_s(found.group(1)) <= STALE_UPLOADS_EXPIRY_S:
            self.report.add(subject, f"removed after {found.group(1)}", changed=False)
            return
        with self._step("setting MinIO's api stale_uploads_expiry"):
            self.admin.config_set("api", {"stale_uploads_expiry": "24h"})
        self.report.add(subject, f"removed after 24h (was {found.group(1)})", changed=True)

    def ensure_policy(self) -> None:
        from minio.error import MinioAdminException

        subject = f"policy {self.policy_name}"
        wanted = storage_policy(self.bucket)
        with self._step(f"{subject}: reading it"):
            try:
                text: str | None = self.admin.policy_info(self.policy_name)
            except MinioAdminException as exc:
                if _admin_error(exc)[0] != "XMinioAdminNoSuchPolicy":
                    raise
                text = None
        try:
            current = None if text is None else json.loads(text)
        except ValueError:
            current = {}  # unreadable: ours replaces it
        if current is not None and canonical_policy(current) == canonical_policy(wanted):
            self.report.add(subject, f"allows objects of bucket {self.bucket} only", changed=False)
            return
        with self._step(f"{subject}: writing it"):
            self.admin.policy_add(self.policy_name, policy=wanted)
        done = "created" if current is None else "replaced (it differed)"
        self.report.add(subject, f"{done}: objects of bucket {self.bucket} only", changed=True)

    def ensure_user(self) -> bool:
        """The storage user, enabled, with our policy only; True when it already existed."""
        from minio.error import MinioAdminException

        access_key = self.settings.access_key
        subject = f"user {access_key}"
        secret = self.settings.secret_key.get_secret_value()
        with self._step(f"{subject}: reading it"):
            try:
                info: dict[str, Any] | None = json.loads(self.admin.user_info(access_key))
            except MinioAdminException as exc:
                if _admin_error(exc)[0] != "XMinioAdminNoSuchUser":
                    raise
                info = None
        changes: list[str] = []
        if info is None:
            with self._step(f"{subject}: creating it"):
                self.admin.user_add(access_key, secret)
            info = {"status": "enabled"}
            changes.append("created")
        if info.get("memberOf"):
            raise SetupError(
                f"{subject} is in group(s) {', '.join(map(str, info['memberOf']))}: their "
                "policies would add to its rights; take it out of them"
            )
        if info.get("status") != "enabled":
            with self._step(f"{subject}: enabling it"):
                self.admin.user_enable(access_key)
            changes.append("enabled")
        attached = {p for p in str(info.get("policyName") or "").split(",") if p}
        if self.policy_name not in attached:
            with self._step(f"{subject}: attaching {self.policy_name}"):
                self.admin.attach_policy([self.policy_name], user=access_key)
            changes.append(f"policy {self.policy_name} attached")
        extra = sorted(attached - {self.policy_name})
        if extra:
            with self._step(f"{subject}: detaching {', '.join(extra)}"):
                self.admin.detach_policy(extra, user=access_key)
            changes.append(f"policies {', '.join(extra)} detached")
        result = ", ".join(changes) if changes else f"enabled, policy {self.policy_name} only"
        self.report.add(subject, result, changed=bool(changes))
        return "created" not in changes

    def check_storage_credentials(self, existed: bool) -> None:
        """List the bucket as the storage user. A user that existed with another secret key
        gets the configured one (the secret files are the truth)."""
        import botocore.exceptions as bex

        subject = f"user {self.settings.access_key} credentials"
        storage = self._s3(self.settings.access_key, self.settings.secret_key)
        reset = False
        # MinIO applies IAM changes to its peers asynchronously: give them a few seconds.
        for attempt in range(20):
            try:
                storage.list_objects_v2(Bucket=self.bucket, MaxKeys=1)
                break
            except bex.ClientError as exc:
                code = _code(exc)
                if code not in (*_AUTH_CODES, "AccessDenied") or attempt == 19:
                    with self._step(f"{subject}: ListObjectsV2", who="CAMVAULT_S3_ACCESS_KEY"):
                        raise
                if existed and not reset and code in _AUTH_CODES:
                    with self._step(f"{subject}: setting the secret key"):
                        self.admin.user_add(
                            self.settings.access_key, self.settings.secret_key.get_secret_value()
                        )
                    reset = True
                time.sleep(0.25)
            except bex.BotoCoreError:
                with self._step(f"{subject}: ListObjectsV2"):
                    raise
        result = (
            "secret key set again, accepted on the bucket" if reset else "accepted on the bucket"
        )
        self.report.add(subject, result, changed=reset)


def canonical_policy(policy: dict[str, Any]) -> str:
    """A policy as a comparable string: statements and their lists in a fixed order (MinIO
    reads a policy back with its actions in any order)."""

    def one(statement: dict[str, Any]) -> dict[str, Any]:
        return {
            k: sorted(v) if isinstance(v, list) else ([v] if k in ("Action", "Resource") else v)
            for k, v in statement.items()
        }

    statements = sorted(json.dumps(one(s), sort_keys=True) for s in policy.get("Statement", []))
    return json.dumps([policy.get("Version"), statements])


def setup(settings: S3SetupSettings, *, noncurrent_days: int = 7) -> Report:
    """Apply the whole setup (see the module docstring); :class:`SetupError` says what failed."""
    if noncurrent_days < 1:
        raise SetupError("noncurrent versions must be kept at least 1 day")
    return _Setup(settings, noncurrent_days).run()
