"""infra/terraform/, checked with the tools that run here.

`tofu fmt -check -recursive` (the real OpenTofu, built by scripts/install-tools.sh) parses
every file and refuses any not in canonical form. `tofu init` + `tofu validate` check the
configuration against the real hashicorp/aws provider's schema (every argument, block and
type): the Terraform registry is not reachable from CI, so scripts/install-tools.sh builds
the provider from the Go module proxy (a pseudo-version of a 2026 commit, cut for release
6.48.0, pinned in scripts/tool-versions.env) and tofu installs it from a filesystem mirror.
On top of what validate knows, this module parses the HCL (python-hcl2) and asserts:

- what `tofu validate` would catch between files and modules: every ``var.``, ``local.``,
  ``module.X.Y``, resource and data reference is declared, every module input is a variable
  of that module and every required one is given;
- the security posture of issue 14 and infra/terraform/README.md: the bucket (versioning,
  lifecycle, public access block, SSE-KMS, TLS-only policy), the storage role's exact grants
  (no version deletion, no bucket administration, no wildcard), nothing on S3 for custodians,
  the databases (encrypted, private, backed up, one per custodian), the security groups (the
  storage database only from the storage tasks and the sweeper, a custodian's database only
  from that custodian), HTTPS-only endpoints, and no secret written anywhere.

Each check is a function of the parsed configuration returning its problems; every one of
them is also run on a copy with one change an attacker or a careless edit could make (the
versioning suspended, ``s3:DeleteObjectVersion`` granted, a database made public...) and must
report it, so none of them passes vacuously.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
import pytest

REPO = Path(__file__).resolve().parents[2]
TF = REPO / "infra" / "terraform"
ROOT, CUSTODIAN, ENDPOINT, NETWORK = (
    ".",
    "modules/custodian",
    "modules/https_endpoint",
    "modules/network",
)
OPTIONS = hcl2.SerializationOptions(
    with_comments=False, explicit_blocks=False, strip_string_quotes=True, preserve_heredocs=False
)

BUCKET_ARN = "${aws_s3_bucket.recordings.arn}"
# The storage service's S3 grants, exactly (storage_service/blobstore/s3.py's calls).
STORAGE_S3 = {
    BUCKET_ARN: {"s3:ListBucket", "s3:ListBucketMultipartUploads"},
    f"{BUCKET_ARN}/*": {
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
    },
}
STORAGE_KMS = {"${aws_kms_key.recordings.arn}": {"kms:Decrypt", "kms:GenerateDataKey"}}
TLS12_POLICY = re.compile(r"^ELBSecurityPolicy-(TLS13-1-[23]|TLS-1-2|FS-1-2)-")
SECRET_ATTR = re.compile(r"password|secret|token|private_key|access_key", re.I)
SECRET_ENV = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY|PRIVATE")
LEAKS = (
    re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),  # an AWS access key id
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY"),
    re.compile(r"://[^/\s@]*:[^/\s@]*@"),  # a URL with a password in it
)


# --- the parsed configuration ----------------------------------------------------------


def parse(text: str) -> dict[str, Any]:
    parsed: dict[str, Any] = hcl2.loads(text, serialization_options=OPTIONS)
    return parsed


Tree = dict[str, dict[str, Any]]  # file (relative to infra/terraform) -> parsed


@dataclass
class Module:
    """The blocks of one module directory, merged over its files."""

    resources: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    data: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    providers: list[dict[str, Any]] = field(default_factory=list)

    def of(self, rtype: str) -> dict[str, dict[str, Any]]:
        return self.resources.get(rtype, {})


def modules_of(tree: Tree) -> dict[str, Module]:
    mods: dict[str, Module] = {}
    for rel, parsed in tree.items():
        if not rel.endswith(".tf"):
            continue
        mod = mods.setdefault(posixpath.dirname(rel) or ROOT, Module())
        for kind, into in (("resource", mod.resources), ("data", mod.data)):
            for block in parsed.get(kind, []):
                for rtype, named in block.items():
                    into.setdefault(rtype, {}).update(named)
        for kind, flat in (
            ("module", mod.modules),
            ("variable", mod.variables),
            ("output", mod.outputs),
        ):
            for block in parsed.get(kind, []):
                flat.update(block)
        for block in parsed.get("locals", []):
            mod.locals.update(block)
        for block in parsed.get("provider", []):
            mod.providers.extend(body for body in block.values())
    return mods


def blocks(body: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """Nested blocks of ``body`` named ``key`` (python-hcl2 gives a list of bodies)."""
    found = body.get(key, [])
    return found if isinstance(found, list) else [found]


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def ref(name: str) -> str:
    return "${" + name + "}"


def child_key(parent: str, source: str) -> str:
    return posixpath.normpath(posixpath.join(parent, source))


def callers(mods: dict[str, Module], key: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (parent, body)
        for parent, mod in mods.items()
        for body in mod.modules.values()
        if child_key(parent, body["source"]) == key
    ]


def resolve(mods: dict[str, Module], key: str, value: Any) -> list[Any]:
    """The values an attribute can take: a literal as it is; ``var.X`` through what each
    caller of the module passes (or the variable's default); ``local.X.Y`` through the
    locals. Anything else is returned as the expression it is."""
    if not isinstance(value, str):
        return [value]
    if m := re.fullmatch(r"\$\{var\.(\w+)\}", value):
        var = mods[key].variables.get(m[1], {})
        if key == ROOT:
            return [var.get("default")]
        return [
            v
            for parent, body in callers(mods, key)
            for v in resolve(mods, parent, body.get(m[1], var.get("default")))
        ]
    if m := re.fullmatch(r"\$\{local\.([\w.]+)\}", value):
        found: Any = mods[key].locals
        for part in m[1].split("."):
            found = found.get(part) if isinstance(found, dict) else None
        return resolve(mods, key, found)
    return [value]


def policy_document(mod: Module, expr: Any) -> dict[str, Any] | None:
    m = re.fullmatch(r"\$\{data\.aws_iam_policy_document\.(\w+)\.json\}", str(expr))
    return mod.data.get("aws_iam_policy_document", {}).get(m[1]) if m else None


def statements(doc: dict[str, Any] | None) -> list[dict[str, Any]]:
    return blocks(doc, "statement") if doc else []


def ingress(mod: Module, sg: str) -> set[tuple[str, int, int]]:
    """(source, from port, to port) of every ingress rule of security group ``sg``."""
    rules = set()
    for rule in mod.of("aws_vpc_security_group_ingress_rule").values():
        if rule.get("security_group_id") != ref(f"aws_security_group.{sg}.id"):
            continue
        source = rule.get("referenced_security_group_id") or "cidr:" + str(
            rule.get("cidr_ipv4") or rule.get("cidr_ipv6") or rule.get("prefix_list_id")
        )
        rules.add((source, rule.get("from_port", -1), rule.get("to_port", -1)))
    return rules


# --- the checks: each takes the parsed configuration and returns its problems ------------

Check = Callable[[Tree], list[str]]


def check_bucket(tree: Tree) -> list[str]:
    root = modules_of(tree)[ROOT]
    problems: list[str] = []
    buckets = root.of("aws_s3_bucket")
    if list(buckets) != ["recordings"]:
        return [f"expected one bucket, aws_s3_bucket.recordings; found {sorted(buckets)}"]
    if buckets["recordings"].get("force_destroy") is not False:
        problems.append("the bucket may be force-destroyed with its objects")

    def of_bucket(rtype: str) -> list[dict[str, Any]]:
        bucket_id = ref("aws_s3_bucket.recordings.id")
        return [b for b in root.of(rtype).values() if b.get("bucket") == bucket_id]

    versioning = [
        c.get("status")
        for v in of_bucket("aws_s3_bucket_versioning")
        for c in blocks(v, "versioning_configuration")
    ]
    if versioning != ["Enabled"]:
        problems.append(f"bucket versioning is not Enabled: {versioning}")

    rules = [
        r for lc in of_bucket("aws_s3_bucket_lifecycle_configuration") for r in blocks(lc, "rule")
    ]
    whole_bucket = [
        r
        for r in rules
        if r.get("status") == "Enabled"
        and "prefix" not in r
        and all(f == {} for f in blocks(r, "filter"))
    ]
    noncurrent = [
        n.get("noncurrent_days")
        for r in whole_bucket
        for n in blocks(r, "noncurrent_version_expiration")
    ]
    if noncurrent != [ref("var.noncurrent_version_expiration_days")]:
        problems.append(
            "noncurrent versions do not expire after var.noncurrent_version_expiration_days "
            f"on the whole bucket: {noncurrent}"
        )
    days = resolve(modules_of(tree), ROOT, ref("var.noncurrent_version_expiration_days"))
    if not all(isinstance(d, int) and d >= 1 for d in days):
        problems.append(f"noncurrent_version_expiration_days default is not a number >= 1: {days}")
    aborts = [
        a.get("days_after_initiation")
        for r in whole_bucket
        for a in blocks(r, "abort_incomplete_multipart_upload")
    ]
    if aborts != [1]:
        problems.append(f"incomplete multipart uploads are not aborted after 1 day: {aborts}")

    flags = (
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    )
    blocked = of_bucket("aws_s3_bucket_public_access_block")
    if len(blocked) != 1:
        problems.append("no public access block on the bucket")
    for pab in blocked:
        for flag in flags:
            if pab.get(flag) is not True:
                problems.append(f"public access block: {flag} is not true")

    sse = [
        d
        for c in of_bucket("aws_s3_bucket_server_side_encryption_configuration")
        for r in blocks(c, "rule")
        for d in blocks(r, "apply_server_side_encryption_by_default")
    ]
    if len(sse) != 1 or sse[0].get("sse_algorithm") != "aws:kms":
        problems.append(f"server-side encryption is not aws:kms: {sse}")
    else:
        m = re.fullmatch(r"\$\{aws_kms_key\.(\w+)\.arn\}", str(sse[0].get("kms_master_key_id")))
        key = root.of("aws_kms_key").get(m[1]) if m else None
        if key is None:
            problems.append("server-side encryption does not use this configuration's KMS key")
        elif key.get("enable_key_rotation") is not True:
            problems.append("the bucket's KMS key has no automatic rotation")

    denies_plain_http = False
    for policy in of_bucket("aws_s3_bucket_policy"):
        for st in statements(policy_document(root, policy.get("policy"))):
            conditions = [
                (c.get("test"), c.get("variable"), c.get("values")) for c in blocks(st, "condition")
            ]
            denies_plain_http |= (
                st.get("effect") == "Deny"
                and st.get("actions") == ["s3:*"]
                and set(st.get("resources", [])) == {BUCKET_ARN, f"{BUCKET_ARN}/*"}
                and [(p.get("type"), p.get("identifiers")) for p in blocks(st, "principals")]
                == [("*", ["*"])]
                and conditions == [("Bool", "aws:SecureTransport", ["false"])]
            )
    if not denies_plain_http:
        problems.append("the bucket policy does not deny every non-TLS request")
    return problems


def check_storage_role(tree: Tree) -> list[str]:
    root = modules_of(tree)[ROOT]
    problems: list[str] = []
    role = root.of("aws_iam_role").get("storage_task")
    if role is None:
        return ["no aws_iam_role.storage_task"]
    if "inline_policy" in role or "managed_policy_arns" in role:
        problems.append("the storage task role has policies outside aws_iam_role_policy")
    role_refs = {ref("aws_iam_role.storage_task.id"), ref("aws_iam_role.storage_task.name")}
    for rtype in (
        "aws_iam_role_policy_attachment",
        "aws_iam_policy_attachment",
        "aws_iam_role_policies_exclusive",
    ):
        for name, body in root.of(rtype).items():
            if role_refs & set(strings(body)):
                problems.append(
                    f"{rtype}.{name} attaches a managed policy to the storage task role"
                )

    granted: dict[str, set[str]] = {}
    kms_conditions: list[Any] = []
    policies = [p for p in root.of("aws_iam_role_policy").values() if p.get("role") in role_refs]
    for policy in policies:
        doc = policy_document(root, policy.get("policy"))
        if doc is None:
            problems.append("a storage task role policy is not an aws_iam_policy_document")
        for st in statements(doc):
            if st.get("effect", "Allow") != "Allow":
                continue
            if "not_actions" in st or "not_resources" in st:
                problems.append("a storage grant uses not_actions/not_resources")
            for action in st.get("actions", []):
                if "*" in action:
                    problems.append(f"wildcard action granted to the storage service: {action}")
                for resource in st.get("resources", []):
                    granted.setdefault(resource, set()).add(action)
            if any(a.startswith("kms:") for a in st.get("actions", [])):
                kms_conditions += [
                    (c.get("variable"), c.get("values")) for c in blocks(st, "condition")
                ]

    s3 = {r: {a for a in acts if a.startswith("s3:")} for r, acts in granted.items()}
    s3 = {r: acts for r, acts in s3.items() if acts}
    every_s3 = set().union(*s3.values()) if s3 else set()
    if "s3:DeleteObjectVersion" in every_s3:
        problems.append("the storage service may delete object versions (s3:DeleteObjectVersion)")
    admin = sorted(
        a
        for a in every_s3
        if re.search(
            r"Bucket(?!MultipartUploads$)|Configuration|Policy|Acl|Lock|Retention|Replicat", a
        )
        and a != "s3:ListBucket"
    )
    if admin:
        problems.append(f"bucket administration granted to the storage service: {admin}")
    for resource in s3:
        if resource not in STORAGE_S3:
            problems.append(
                f"S3 access granted on something else than the bucket and its objects: {resource}"
            )
    if s3 != STORAGE_S3:
        problems.append(f"the storage service's S3 grants are not exactly the expected ones: {s3}")
    kms = {r: {a for a in acts if a.startswith("kms:")} for r, acts in granted.items()}
    kms = {r: acts for r, acts in kms.items() if acts}
    if kms != STORAGE_KMS:
        problems.append(f"the storage service's KMS grants are not exactly the bucket key's: {kms}")
    if kms_conditions != [("kms:ViaService", ["s3.${var.region}.amazonaws.com"])]:
        problems.append(f"the bucket key is usable outside S3: {kms_conditions}")
    other = set(granted) - set(STORAGE_S3) - set(STORAGE_KMS)
    if other:
        problems.append(f"the storage service is granted more: {sorted(other)}")

    for name, policy in root.of("aws_iam_role_policy").items():
        doc = policy_document(root, policy.get("policy"))
        if policy.get("role") not in role_refs and any(
            re.search(r"\bs3:|aws_s3_bucket", s) for s in strings(doc)
        ):
            problems.append(f"aws_iam_role_policy.{name} grants S3 to another role")
    tasks = root.of("aws_ecs_task_definition")
    for name in ("storage_api", "sweeper"):
        if tasks.get(name, {}).get("task_role_arn") != ref("aws_iam_role.storage_task.arn"):
            problems.append(f"the {name} task does not run as the storage task role")
    if "task_role_arn" in tasks.get("migrate", {}):
        problems.append("the migration task has a task role (it needs no AWS permission)")
    return problems


def check_no_s3_for_custodians(tree: Tree) -> list[str]:
    mods = modules_of(tree)
    problems: list[str] = []
    for key in (CUSTODIAN, ENDPOINT, NETWORK):
        mod = mods[key]
        for kind, blocks_ in (("resource", mod.resources), ("data", mod.data)):
            for rtype, named in blocks_.items():
                for name, body in named.items():
                    for s in strings(body):
                        if re.search(r"\bs3:\w*|aws_s3_bucket", s):
                            problems.append(f"{key}: {kind} {rtype}.{name} mentions S3: {s}")
        for name, doc in mod.data.get("aws_iam_policy_document", {}).items():
            for st in statements(doc):
                granted = [*st.get("actions", []), *st.get("resources", [])]
                if st.get("effect", "Allow") == "Allow" and any("*" in g for g in granted):
                    problems.append(f"{key}: policy {name} grants a wildcard: {granted}")
        for name, body in mod.of("aws_iam_role_policy_attachment").items():
            managed = body.get("policy_arn")
            if (
                managed != "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
                or body.get("role") != ref("aws_iam_role.execution.name")
            ):
                problems.append(f"{key}: managed policy {managed} attached by {name}")
    task = mods[CUSTODIAN].of("aws_ecs_task_definition").get("this", {})
    if task.get("task_role_arn") != ref("aws_iam_role.task.arn"):
        problems.append("the custodian task does not run as its own task role")
    for name, body in mods[ROOT].modules.items():
        if child_key(ROOT, body["source"]) == CUSTODIAN and any(
            "s3" in s or "storage_task" in s for s in strings(body)
        ):
            problems.append(f"module {name} is given something of the storage side's S3 access")
    return problems


def check_databases(tree: Tree) -> list[str]:
    mods = modules_of(tree)
    problems: list[str] = []
    for key, expected in ((ROOT, "storage"), (CUSTODIAN, "custodian")):
        dbs = mods[key].of("aws_db_instance")
        if list(dbs) != [expected]:
            problems.append(
                f"{key}: expected one database, aws_db_instance.{expected}; found {sorted(dbs)}"
            )
        for name, db in dbs.items():
            where = f"{key}: aws_db_instance.{name}"
            for attr, want in (
                ("storage_encrypted", True),
                ("publicly_accessible", False),
                ("deletion_protection", True),
                ("manage_master_user_password", True),
                ("skip_final_snapshot", False),
            ):
                if db.get(attr) is not want:
                    problems.append(f"{where}: {attr} is not {str(want).lower()}")
            for attr in ("password", "password_wo"):
                if attr in db:
                    problems.append(f"{where}: a password is given in the configuration ({attr})")
            retention = resolve(mods, key, db.get("backup_retention_period"))
            if not retention or not all(isinstance(d, int) and d >= 1 for d in retention):
                problems.append(
                    f"{where}: backups are not retained (backup_retention_period {retention})"
                )
            sgs = db.get("vpc_security_group_ids")
            if sgs != [ref(f"aws_security_group.{'storage_db' if key == ROOT else 'db'}.id")]:
                problems.append(f"{where}: not in its own database security group: {sgs}")

    custodians = callers(mods, CUSTODIAN)
    ids = sorted(body.get("custodian_id", "?") for _, body in custodians)
    providers = sorted(str(body.get("providers", {}).get("aws")) for _, body in custodians)
    if ids != ["c1", "c2", "c3"]:
        problems.append(f"not one custodian module (and database) per custodian c1, c2, c3: {ids}")
    if providers != [ref("aws.c1"), ref("aws.c2"), ref("aws.c3")]:
        problems.append(
            f"the custodians do not each have their own provider configuration: {providers}"
        )
    aliases = sorted(p.get("alias", "") for p in mods[ROOT].providers)
    if aliases != ["", "c1", "c2", "c3"]:
        problems.append(f"provider configurations: {aliases}")
    return problems


def check_security_groups(tree: Tree) -> list[str]:
    mods = modules_of(tree)
    root, custodian = mods[ROOT], mods[CUSTODIAN]
    problems: list[str] = []
    for key, mod in mods.items():
        for name, group in mod.of("aws_security_group").items():
            if "ingress" in group or "egress" in group:
                problems.append(
                    f"{key}: aws_security_group.{name} has inline rules (not checked here)"
                )
        if mod.of("aws_security_group_rule"):
            problems.append(f"{key}: aws_security_group_rule resources (not checked here)")
        for name, svc in mod.of("aws_ecs_service").items():
            for net in blocks(svc, "network_configuration"):
                if net.get("assign_public_ip") is not False:
                    problems.append(f"{key}: ECS service {name} tasks may get a public address")

    def sg(name: str) -> str:
        return ref(f"aws_security_group.{name}.id")

    expected = {
        (ROOT, "storage_db"): {(sg("storage_api"), 5432, 5432), (sg("storage_worker"), 5432, 5432)},
        (ROOT, "storage_api"): {(ref("module.storage_endpoint.security_group_id"), 8000, 8000)},
        (ROOT, "storage_worker"): set(),
        (CUSTODIAN, "db"): {(sg("task"), 5432, 5432)},
        (CUSTODIAN, "efs"): {(sg("task"), 2049, 2049)},
        (CUSTODIAN, "task"): {(ref("module.endpoint.security_group_id"), 8100, 8100)},
    }
    for (key, name), want in expected.items():
        got = ingress(mods[key], name)
        if got != want:
            problems.append(
                f"{key}: security group {name} accepts {sorted(got)}, not only {sorted(want)}"
            )

    def service_sgs(mod: Module, name: str) -> list[Any]:
        svc = mod.of("aws_ecs_service").get(name, {})
        return [
            g
            for net in blocks(svc, "network_configuration")
            for g in net.get("security_groups", [])
        ]

    for mod, service, sg_name in (
        (root, "storage_api", "storage_api"),
        (root, "sweeper", "storage_worker"),
        (custodian, "this", "task"),
    ):
        if service_sgs(mod, service) != [sg(sg_name)]:
            problems.append(f"ECS service {service} is not only in security group {sg_name}")
    for name, target in custodian.of("aws_efs_mount_target").items():
        if target.get("security_groups") != [sg("efs")]:
            problems.append(f"EFS mount target {name} is not only in security group efs")
    return problems


def check_endpoints(tree: Tree) -> list[str]:
    mods = modules_of(tree)
    endpoint = mods[ENDPOINT]
    problems: list[str] = []
    https = 0
    for name, listener in endpoint.of("aws_lb_listener").items():
        actions = blocks(listener, "default_action")
        if listener.get("protocol") == "HTTPS":
            https += 1
            policy = str(listener.get("ssl_policy"))
            if listener.get("port") != 443 or not TLS12_POLICY.match(policy):
                problems.append(
                    f"HTTPS listener {name}: port {listener.get('port')}, policy {policy} "
                    "(TLS 1.2+ on 443 wanted)"
                )
            if listener.get("certificate_arn") != ref("var.certificate_arn"):
                problems.append(f"HTTPS listener {name} does not serve var.certificate_arn")
        else:
            redirects = [
                r for a in actions if a.get("type") == "redirect" for r in blocks(a, "redirect")
            ]
            if len(actions) != 1 or [(r.get("protocol"), r.get("port")) for r in redirects] != [
                ("HTTPS", "443")
            ]:
                problems.append(
                    f"listener {name} ({listener.get('protocol')}) does more than redirect to HTTPS"
                )
    if https != 1:
        problems.append(f"{https} HTTPS listeners in the endpoint module (one wanted)")
    for name, tg in endpoint.of("aws_lb_target_group").items():
        paths = [h.get("path") for h in blocks(tg, "health_check")]
        if paths != ["/readyz"]:
            problems.append(f"target group {name} health check is not /readyz: {paths}")
    for name, lb in endpoint.of("aws_lb").items():
        if lb.get("drop_invalid_header_fields") is not True:
            problems.append(f"load balancer {name} forwards invalid header fields")
    for key, mod in mods.items():
        if key != ENDPOINT and (mod.of("aws_lb") or mod.of("aws_lb_listener")):
            problems.append(f"{key}: a load balancer outside modules/https_endpoint")
    for key, service, endpoint_module in (
        (ROOT, "storage_api", "storage_endpoint"),
        (CUSTODIAN, "this", "endpoint"),
    ):
        mod = mods[key]
        call = mod.modules.get(endpoint_module, {})
        if child_key(key, call.get("source", "")) != ENDPOINT:
            problems.append(f"{key}: module {endpoint_module} is not modules/https_endpoint")
        lbs = [
            lb.get("target_group_arn")
            for lb in blocks(mod.of("aws_ecs_service").get(service, {}), "load_balancer")
        ]
        if lbs != [ref(f"module.{endpoint_module}.target_group_arn")]:
            problems.append(f"{key}: service {service} is not behind its own HTTPS endpoint: {lbs}")
    return problems


def check_no_secret_literals(tree: Tree) -> list[str]:
    problems: list[str] = []

    def walk(value: Any, where: str) -> None:
        if isinstance(value, dict):
            name = value.get("name")
            if isinstance(name, str) and "value" in value and SECRET_ENV.search(name):
                problems.append(
                    f"{where}: secret setting {name} passed as a plain environment value"
                )
            for k, v in value.items():
                if SECRET_ATTR.search(k) and isinstance(v, str) and v and "${" not in v:
                    problems.append(f"{where}: literal value for {k}")
                if (
                    SECRET_ATTR.search(k)
                    and isinstance(v, dict)
                    and isinstance(v.get("default"), str)
                ):
                    problems.append(f"{where}: variable {k} has a literal default")
                walk(v, f"{where}.{k}")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{where}[{i}]")
        elif isinstance(value, str):
            for leak in LEAKS:
                if leak.search(value):
                    problems.append(f"{where}: looks like a credential: {value[:40]}...")

    for rel, parsed in tree.items():
        walk(parsed, rel)
    return problems


REFERENCE = re.compile(
    r"(?<![\w.])(?:var\.(\w+)|local\.(\w+)|module\.(\w+)\.(\w+)|data\.(aws_\w+)\.(\w+)|(aws_\w+)\.(\w+)\.)"
)


def check_wiring(tree: Tree) -> list[str]:
    """What `tofu validate` would say about references between blocks and modules."""
    mods = modules_of(tree)
    problems: list[str] = []
    for key, mod in mods.items():
        bodies = [mod.resources, mod.data, mod.modules, mod.variables, mod.outputs, mod.locals]
        for s in strings(bodies):
            for m in REFERENCE.finditer(s):
                var, local, module, output, dtype, dname, rtype, rname = m.groups()
                if var and var not in mod.variables:
                    problems.append(f"{key}: var.{var} is not declared")
                if local and local not in mod.locals:
                    problems.append(f"{key}: local.{local} is not defined")
                if module:
                    call = mod.modules.get(module)
                    if call is None:
                        problems.append(f"{key}: module.{module} is not declared")
                    elif output not in mods[child_key(key, call["source"])].outputs:
                        problems.append(f"{key}: module.{module} has no output {output}")
                if dtype and dname not in mod.data.get(dtype, {}):
                    problems.append(f"{key}: data.{dtype}.{dname} is not declared")
                if rtype and rname not in mod.of(rtype):
                    problems.append(f"{key}: {rtype}.{rname} is not declared")
        for name, call in mod.modules.items():
            child = mods.get(child_key(key, call["source"]))
            if child is None:
                problems.append(f"{key}: module {name}: no module at {call['source']}")
                continue
            given = set(call) - {
                "source",
                "providers",
                "depends_on",
                "count",
                "for_each",
                "version",
            }
            for extra in sorted(given - set(child.variables)):
                problems.append(f"{key}: module {name} is given {extra}, which it does not declare")
            for missing in sorted(
                v for v, body in child.variables.items() if "default" not in body and v not in given
            ):
                problems.append(f"{key}: module {name} is not given its required {missing}")
    return problems


def check_documented(tree: Tree) -> list[str]:
    mods = modules_of(tree)
    problems = [
        f"{key}: {kind} {name} has no description"
        for key, mod in mods.items()
        for kind, named in (("variable", mod.variables), ("output", mod.outputs))
        for name, body in named.items()
        if not str(body.get("description", "")).strip()
    ]
    example = tree.get("example.tfvars")
    if example is None:
        return [*problems, "no example.tfvars"]
    root_vars = mods[ROOT].variables
    problems += [f"example.tfvars sets undeclared {k}" for k in example if k not in root_vars]
    problems += [
        f"example.tfvars lacks the required {v}"
        for v, body in root_vars.items()
        if "default" not in body and v not in example
    ]
    return problems


CHECKS: dict[str, Check] = {
    "bucket": check_bucket,
    "storage_role": check_storage_role,
    "no_s3_for_custodians": check_no_s3_for_custodians,
    "databases": check_databases,
    "security_groups": check_security_groups,
    "endpoints": check_endpoints,
    "no_secret_literals": check_no_secret_literals,
    "wiring": check_wiring,
    "documented": check_documented,
}


# --- fixtures and the tests ---------------------------------------------------------------


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    files = [*TF.rglob("*.tf"), *TF.rglob("*.tfvars")]
    return {
        p.relative_to(TF).as_posix(): p.read_text()
        for p in sorted(files)
        if ".terraform" not in p.parts
    }


@pytest.fixture(scope="module")
def tree(texts: dict[str, str]) -> Tree:
    return {rel: parse(text) for rel, text in texts.items()}


def tofu() -> Path:
    cache = Path(os.environ.get("CAMVAULT_CACHE_DIR") or REPO / ".cache")
    exe = cache / "bin" / "tofu"
    if not os.access(exe, os.X_OK):
        pytest.fail(f"{exe} is missing (bash scripts/install-tools.sh tofu)", pytrace=False)
    return exe


def run_fmt_check(path: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    cli_config = tmp_path / "tofurc"
    cli_config.write_text("")  # this machine's own CLI configuration has no say
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(cli_config), "TF_IN_AUTOMATION": "1"}
    return subprocess.run(
        [str(tofu()), "fmt", "-check", "-recursive", "-diff", "-no-color", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_tofu_fmt_accepts_every_file(tmp_path: Path) -> None:
    done = run_fmt_check(TF, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_tofu_fmt_refuses_a_malformed_or_unformatted_file(tmp_path: Path) -> None:
    """The fmt check can fail: a file that does not parse, and one not in canonical form."""
    for name, text in (
        ("broken", 'resource "aws_s3_bucket" "x" {\n  bucket = \n'),
        ("ugly", "locals {\na=1\n  bb = 2\n}\n"),
    ):
        work = tmp_path / name
        work.mkdir()
        (work / "main.tf").write_text(text)
        assert run_fmt_check(work, tmp_path).returncode != 0, name


AWS_RELEASE = "6.48.0"  # TOFU_AWS_RELEASE in scripts/tool-versions.env


def run_validate(config: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`tofu init -backend=false` then `tofu validate` of a copy of ``config``, the provider
    installed from the filesystem mirror scripts/install-tools.sh fills (never the network)."""
    cache = Path(os.environ.get("CAMVAULT_CACHE_DIR") or REPO / ".cache")
    mirror = cache / "tofu-mirror"
    plugin = mirror / f"registry.opentofu.org/hashicorp/aws/{AWS_RELEASE}/linux_amd64"
    if not (plugin / f"terraform-provider-aws_v{AWS_RELEASE}").is_file():
        pytest.fail(
            f"the AWS provider is missing from {mirror} (bash scripts/install-tools.sh tofu-aws)",
            pytrace=False,
        )
    tmp_path.mkdir(parents=True, exist_ok=True)
    rc = tmp_path / "tofurc"
    rc.write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n}}\n'
    )
    work = tmp_path / "config"
    shutil.copytree(config, work, ignore=shutil.ignore_patterns(".terraform*"))
    env = {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(rc),
        "TF_IN_AUTOMATION": "1",
        "TF_DATA_DIR": str(tmp_path / "data"),
    }
    for args in (["init", "-backend=false", "-input=false"], ["validate"]):
        done = subprocess.run(
            [str(tofu()), *args, "-no-color"],
            cwd=work,
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        if done.returncode != 0:
            return done
    return done


def test_tofu_validate_accepts_the_configuration(tmp_path: Path) -> None:
    done = run_validate(TF, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "The configuration is valid" in done.stdout


def test_tofu_validate_refuses_what_the_provider_does_not_know(tmp_path: Path) -> None:
    """validate really checks the provider's schema: an argument the AWS provider does not
    have, which fmt and the HCL parse both accept, is refused."""
    bad = tmp_path / "bad"
    shutil.copytree(TF, bad, ignore=shutil.ignore_patterns(".terraform*"))
    bucket = bad / "bucket.tf"
    text = bucket.read_text()
    patched = re.sub(r"(\n\s*)versioning_configuration \{", r"\1versioning_configuraton {", text)
    assert patched != text
    bucket.write_text(patched)
    done = run_validate(bad, tmp_path / "run")
    assert done.returncode != 0
    assert "versioning_configuraton" in done.stderr + done.stdout


def test_the_three_modules_and_the_root_are_there(tree: Tree) -> None:
    assert set(modules_of(tree)) == {ROOT, CUSTODIAN, ENDPOINT, NETWORK}
    assert (TF / "README.md").is_file()
    readme = (TF / "README.md").read_text()
    assert "tofu init" in readme and "tofu plan -var-file=" in readme


@pytest.mark.parametrize("name", CHECKS)
def test_posture(name: str, tree: Tree) -> None:
    assert CHECKS[name](tree) == []


@dataclass(frozen=True)
class Mutation:
    check: str
    file: str
    pattern: str
    replacement: str
    says: str  # a word of the problem the check must report


MUTATIONS = {
    "versioning suspended": Mutation(
        "bucket",
        "bucket.tf",
        r'(versioning_configuration \{\s*status\s*=\s*)"Enabled"',
        r'\1"Suspended"',
        "versioning",
    ),
    "noncurrent rule disabled": Mutation(
        "bucket",
        "bucket.tf",
        r'(id\s*=\s*"expire-noncurrent-versions"\s*status\s*=\s*)"Enabled"',
        r'\1"Disabled"',
        "noncurrent",
    ),
    "noncurrent rule on a prefix only": Mutation(
        "bucket",
        "bucket.tf",
        r'(id\s*=\s*"expire-noncurrent-versions"\s*status\s*=\s*"Enabled"\s*)filter \{\}',
        r'\1filter {\n prefix = "tmp/"\n }',
        "noncurrent",
    ),
    "noncurrent versions kept for ever": Mutation(
        "bucket",
        "variables.tf",
        r"(variable \"noncurrent_version_expiration_days\" \{[^}]*default\s*=\s*)7",
        r"\g<1>0",
        "noncurrent",
    ),
    "multipart uploads kept a month": Mutation(
        "bucket",
        "bucket.tf",
        r"days_after_initiation = 1",
        "days_after_initiation = 30",
        "multipart",
    ),
    "public ACLs allowed": Mutation(
        "bucket",
        "bucket.tf",
        r"block_public_acls(\s*)= true",
        r"block_public_acls\1= false",
        "block_public_acls",
    ),
    "public policy allowed": Mutation(
        "bucket",
        "bucket.tf",
        r"block_public_policy(\s*)= true",
        r"block_public_policy\1= false",
        "block_public_policy",
    ),
    "public ACLs honoured": Mutation(
        "bucket",
        "bucket.tf",
        r"ignore_public_acls(\s*)= true",
        r"ignore_public_acls\1= false",
        "ignore_public_acls",
    ),
    "public buckets unrestricted": Mutation(
        "bucket",
        "bucket.tf",
        r"restrict_public_buckets = true",
        "restrict_public_buckets = false",
        "restrict_public_buckets",
    ),
    "SSE-S3 instead of KMS": Mutation("bucket", "bucket.tf", r'"aws:kms"', '"AES256"', "aws:kms"),
    "KMS key not rotated": Mutation(
        "bucket",
        "bucket.tf",
        r"enable_key_rotation(\s*)= true",
        r"enable_key_rotation\1= false",
        "rotation",
    ),
    "plain HTTP allowed": Mutation(
        "bucket", "bucket.tf", r'values(\s*)= \["false"\]', r'values\1= ["true"]', "non-TLS"
    ),
    "bucket force-destroyed": Mutation(
        "bucket", "bucket.tf", r"force_destroy = false", "force_destroy = true", "force-destroyed"
    ),
    "version deletion granted": Mutation(
        "storage_role",
        "iam.tf",
        r'"s3:DeleteObject",',
        '"s3:DeleteObject",\n      "s3:DeleteObjectVersion",',
        "DeleteObjectVersion",
    ),
    "wildcard action": Mutation(
        "storage_role", "iam.tf", r'"s3:ListBucket",', '"s3:*",', "wildcard"
    ),
    "wildcard resource": Mutation(
        "storage_role",
        "iam.tf",
        r'resources = \["\$\{aws_s3_bucket\.recordings\.arn\}/\*"\]',
        'resources = ["*"]',
        "something else",
    ),
    "another bucket": Mutation(
        "storage_role",
        "iam.tf",
        r"resources = \[aws_s3_bucket\.recordings\.arn\]",
        'resources = ["arn:aws:s3:::other-bucket"]',
        "something else",
    ),
    "bucket policy administration": Mutation(
        "storage_role",
        "iam.tf",
        r'"s3:ListBucketMultipartUploads",',
        '"s3:ListBucketMultipartUploads",\n      "s3:PutBucketPolicy",',
        "administration",
    ),
    "lifecycle administration": Mutation(
        "storage_role",
        "iam.tf",
        r'"s3:ListBucketMultipartUploads",',
        '"s3:ListBucketMultipartUploads",\n      "s3:PutLifecycleConfiguration",',
        "administration",
    ),
    "a managed policy on the storage role": Mutation(
        "storage_role",
        "iam.tf",
        r"# The migration task",
        'resource "aws_iam_role_policy_attachment" "s3_full" {\n'
        "  role = aws_iam_role.storage_task.name\n"
        '  policy_arn = "arn:aws:iam::aws:policy/AmazonS3FullAccess"\n'
        "}\n# The migration task",
        "managed policy",
    ),
    "the execution role may read objects": Mutation(
        "storage_role",
        "iam.tf",
        r'actions   = \["secretsmanager:GetSecretValue"\]',
        'actions   = ["secretsmanager:GetSecretValue", "s3:GetObject"]',
        "another role",
    ),
    "KMS key usable outside S3": Mutation(
        "storage_role",
        "iam.tf",
        r'variable = "kms:ViaService"',
        'variable = "aws:RequestedRegion"',
        "outside S3",
    ),
    "migration task with the storage role": Mutation(
        "storage_role",
        "services.tf",
        r"# no task_role_arn: migrations touch the database only",
        "task_role_arn = aws_iam_role.storage_task.arn",
        "migration task",
    ),
    "custodian task with another role": Mutation(
        "no_s3_for_custodians",
        "modules/custodian/service.tf",
        r"task_role_arn(\s*)= aws_iam_role\.task\.arn",
        r"task_role_arn\1= aws_iam_role.execution.arn",
        "own task role",
    ),
    "sweeper in the API's security group": Mutation(
        "security_groups",
        "services.tf",
        r"security_groups(\s*)= \[aws_security_group\.storage_worker\.id\]",
        r"security_groups\1= [aws_security_group.storage_api.id]",
        "sweeper",
    ),
    "custodian may read the bucket": Mutation(
        "no_s3_for_custodians",
        "modules/custodian/main.tf",
        r'"elasticfilesystem:ClientWrite",\n    \]\n'
        r"    resources = \[aws_efs_file_system.keys.arn\]\n    condition",
        '"elasticfilesystem:ClientWrite",\n      "s3:GetObject",\n    ]\n'
        '    resources = ["*"]\n    condition',
        "S3",
    ),
    "custodian gets S3 full access": Mutation(
        "no_s3_for_custodians",
        "modules/custodian/main.tf",
        r"service-role/AmazonECSTaskExecutionRolePolicy",
        "AmazonS3FullAccess",
        "AmazonS3FullAccess",
    ),
    "storage database public": Mutation(
        "databases",
        "database.tf",
        r"publicly_accessible(\s*)= false",
        r"publicly_accessible\1= true",
        "publicly_accessible",
    ),
    "storage database unencrypted": Mutation(
        "databases",
        "database.tf",
        r"storage_encrypted(\s*)= true",
        r"storage_encrypted\1= false",
        "storage_encrypted",
    ),
    "storage database deletable": Mutation(
        "databases",
        "database.tf",
        r"deletion_protection(\s*)= true",
        r"deletion_protection\1= false",
        "deletion_protection",
    ),
    "storage database password literal": Mutation(
        "databases",
        "database.tf",
        r"manage_master_user_password = true",
        'password = "correct-horse-battery"',
        "password",
    ),
    "backups off": Mutation(
        "databases",
        "variables.tf",
        r"(variable \"db_backup_retention_days\" \{[^}]*default\s*=\s*)14",
        r"\g<1>0",
        "backups",
    ),
    "custodian database public": Mutation(
        "databases",
        "modules/custodian/database.tf",
        r"publicly_accessible(\s*)= false",
        r"publicly_accessible\1= true",
        "publicly_accessible",
    ),
    "two custodians share an id": Mutation(
        "databases",
        "custodians.tf",
        r'custodian_id(\s*)= "c3"',
        r'custodian_id\1= "c2"',
        "one custodian",
    ),
    "two custodians share a provider": Mutation(
        "databases", "custodians.tf", r"aws = aws\.c3", "aws = aws.c2", "provider"
    ),
    "storage database open to a network": Mutation(
        "security_groups",
        "network.tf",
        r"referenced_security_group_id = aws_security_group\.storage_worker\.id",
        'cidr_ipv4 = "10.0.0.0/8"',
        "storage_db",
    ),
    "storage API open to everyone": Mutation(
        "security_groups",
        "network.tf",
        r"referenced_security_group_id = module\.storage_endpoint\.security_group_id",
        'cidr_ipv4 = "0.0.0.0/0"',
        "storage_api",
    ),
    "custodian database open to its load balancer": Mutation(
        "security_groups",
        "modules/custodian/network.tf",
        r"(to_port\s*=\s*5432\s*referenced_security_group_id\s*=\s*)aws_security_group\.task\.id",
        r"\1module.endpoint.security_group_id",
        "db accepts",
    ),
    "inline ingress rule": Mutation(
        "security_groups",
        "network.tf",
        r'(description = "camvault storage database: only the storage API tasks and the '
        r'sweeper"\n)',
        r"\1  ingress {\n    from_port = 5432\n    to_port = 5432\n"
        r'    protocol = "tcp"\n    cidr_blocks = ["0.0.0.0/0"]\n  }\n',
        "inline",
    ),
    "task with a public address": Mutation(
        "security_groups",
        "services.tf",
        r"(security_groups\s*=\s*\[aws_security_group\.storage_worker\.id\]\s*)"
        r"assign_public_ip = false",
        r"\1assign_public_ip = true",
        "public address",
    ),
    "TLS 1.0 allowed": Mutation(
        "endpoints",
        "modules/https_endpoint/main.tf",
        r"ELBSecurityPolicy-TLS13-1-2-2021-06",
        "ELBSecurityPolicy-2016-08",
        "TLS 1.2+",
    ),
    "HTTP served": Mutation(
        "endpoints",
        "modules/https_endpoint/main.tf",
        r'type = "redirect"\n    redirect \{[^}]*\}',
        'type = "forward"\n    target_group_arn = aws_lb_target_group.this.arn',
        "redirect",
    ),
    "HTTPS listener downgraded": Mutation(
        "endpoints",
        "modules/https_endpoint/main.tf",
        r'(port\s*=\s*443\s*protocol\s*=\s*)"HTTPS"',
        r'\1"HTTP"',
        "HTTPS listeners",
    ),
    "health check on /": Mutation(
        "endpoints",
        "modules/https_endpoint/main.tf",
        r'path(\s*)= "/readyz"',
        r'path\1= "/"',
        "/readyz",
    ),
    "invalid headers forwarded": Mutation(
        "endpoints",
        "modules/https_endpoint/main.tf",
        r"drop_invalid_header_fields = true",
        "drop_invalid_header_fields = false",
        "invalid header",
    ),
    "secret key in the environment": Mutation(
        "no_secret_literals",
        "services.tf",
        r'(\{ name = "CAMVAULT_BLOBSTORE", value = "s3" \},)',
        r'\1\n    { name = "CAMVAULT_S3_SECRET_KEY", value = "abc" },',
        "CAMVAULT_S3_SECRET_KEY",
    ),
    "password in the database URL": Mutation(
        "no_secret_literals",
        "modules/custodian/service.tf",
        r"psycopg://\$\{aws_db_instance\.custodian\.username\}@",
        "psycopg://camvault:hunter2@",
        "credential",
    ),
    "password in the tfvars": Mutation(
        "no_secret_literals",
        "example.tfvars",
        r"(storage_replicas\s*=\s*2)",
        r'\1\ndb_password = "correct-horse-battery"',
        "db_password",
    ),
    "access key in the tfvars": Mutation(
        "no_secret_literals",
        "example.tfvars",
        r'(name\s*=\s*"camvault")',
        r'\1\naws_key_hint = "AKIAIOSFODNN7EXAMPLE"',
        "credential",
    ),
    "undeclared variable": Mutation(
        "wiring", "bucket.tf", r"var\.bucket_name", "var.bucket", "var.bucket is not declared"
    ),
    "undeclared module output": Mutation(
        "wiring",
        "services.tf",
        r"module\.storage_endpoint\.target_group_arn",
        "module.storage_endpoint.target_group",
        "no output",
    ),
    "module input missing": Mutation(
        "wiring",
        "custodians.tf",
        r'(custodian_id\s*=\s*"c2"[\s\S]*?)'
        r"\n  notify_url\s*=\s*local\.custodian_defaults\.notify_url",
        r"\1",
        "notify_url",
    ),
    "undeclared resource": Mutation(
        "wiring",
        "iam.tf",
        r"role   = aws_iam_role\.storage_task\.id",
        "role   = aws_iam_role.storage.id",
        "aws_iam_role.storage is not",
    ),
    "undocumented variable": Mutation(
        "documented",
        "modules/network/variables.tf",
        r'description = "Tags added to every resource of the network."\n',
        "",
        "no description",
    ),
    "example lacks a required variable": Mutation(
        "documented", "example.tfvars", r'\nbucket_name\s*=\s*"[^"]*"', "", "bucket_name"
    ),
}


@pytest.mark.parametrize("name", MUTATIONS)
def test_mutation_is_reported(name: str, texts: dict[str, str], tree: Tree) -> None:
    mutation = MUTATIONS[name]
    changed, count = re.subn(mutation.pattern, mutation.replacement, texts[mutation.file])
    assert count == 1, f"{name}: the mutation's pattern matched {count} times in {mutation.file}"
    mutated = {**tree, mutation.file: parse(changed)}
    problems = CHECKS[mutation.check](mutated)
    assert any(mutation.says in p for p in problems), problems
