# One key custodian of camvault (issue 14; docs/OPERATIONS.md): the escrow service, its own
# PostgreSQL, its own key volume (the X25519 escrow key and the transparency log's signing
# key, made at first start) and its own TLS endpoint, in its own VPC. The root module
# instantiates this three times (c1, c2, c3; t = 2).
#
# In production each custodian should be run by an independent party, in its own AWS
# account: pass this module a provider configured for that account (providers = { aws =
# aws.c1 }). Nothing here refers to the storage side's resources or to another custodian:
# the only link is var.notify_url, the storage service's public HTTPS URL, where access
# notices are sent. A custodian has no permission on S3 and no network path to the storage
# database or to another custodian's database.

module "network" {
  source          = "../network"
  name            = local.name
  region          = var.region
  cidr_block      = var.vpc_cidr
  az_count        = var.az_count
  one_nat_gateway = var.one_nat_gateway
  tags            = var.tags
}

locals {
  name = "${var.name}-${var.custodian_id}"
}

data "aws_caller_identity" "current" {}

# --- the key volume: EFS, encrypted with this custodian's own KMS key ---------------------

resource "aws_kms_key" "custodian" {
  description             = "${local.name}: the custodian's key volume"
  enable_key_rotation     = true
  deletion_window_in_days = 30
}

resource "aws_kms_alias" "custodian" {
  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.custodian.key_id
}

resource "aws_efs_file_system" "keys" {
  creation_token = "${local.name}-keys"
  encrypted      = true
  kms_key_id     = aws_kms_key.custodian.arn
  tags           = { Name = "${local.name}-keys" }
}

# A lost escrow key is a custodian lost for good (README: Custodian keys): daily backups.
resource "aws_efs_backup_policy" "keys" {
  file_system_id = aws_efs_file_system.keys.id
  backup_policy {
    status = "ENABLED"
  }
}

# The service runs as the image's unprivileged user (uid 10001); the access point confines
# it to /keys, created owner-only.
resource "aws_efs_access_point" "keys" {
  file_system_id = aws_efs_file_system.keys.id
  posix_user {
    uid = 10001
    gid = 10001
  }
  root_directory {
    path = "/keys"
    creation_info {
      owner_uid   = 10001
      owner_gid   = 10001
      permissions = "0700"
    }
  }
}

resource "aws_efs_mount_target" "keys" {
  count           = var.az_count
  file_system_id  = aws_efs_file_system.keys.id
  subnet_id       = module.network.private_subnet_ids[count.index]
  security_groups = [aws_security_group.efs.id]
}

# Only over TLS, only through the access point, only this custodian's task role.
data "aws_iam_policy_document" "keys_fs" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["elasticfilesystem:*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    resources = [aws_efs_file_system.keys.arn]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  statement {
    sid = "CustodianTask"
    actions = [
      "elasticfilesystem:ClientMount",
      "elasticfilesystem:ClientWrite",
    ]
    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.task.arn]
    }
    resources = [aws_efs_file_system.keys.arn]
    condition {
      test     = "StringEquals"
      variable = "elasticfilesystem:AccessPointArn"
      values   = [aws_efs_access_point.keys.arn]
    }
  }
}

resource "aws_efs_file_system_policy" "keys" {
  file_system_id = aws_efs_file_system.keys.id
  policy         = data.aws_iam_policy_document.keys_fs.json
}

# --- identities: the task may mount its key volume, and nothing else ----------------------

data "aws_iam_policy_document" "ecs_tasks_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "task" {
  name               = "${local.name}-task"
  description        = "camvault custodian ${var.custodian_id}: its key volume only (no S3)"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
}

data "aws_iam_policy_document" "task" {
  statement {
    sid = "KeyVolume"
    actions = [
      "elasticfilesystem:ClientMount",
      "elasticfilesystem:ClientWrite",
    ]
    resources = [aws_efs_file_system.keys.arn]
    condition {
      test     = "StringEquals"
      variable = "elasticfilesystem:AccessPointArn"
      values   = [aws_efs_access_point.keys.arn]
    }
  }
}

resource "aws_iam_role_policy" "task" {
  name   = "key-volume"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}

resource "aws_iam_role" "execution" {
  name               = "${local.name}-execution"
  description        = "ECS starting camvault custodian ${var.custodian_id}: image, logs, database secret"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

data "aws_iam_policy_document" "execution_secret" {
  statement {
    sid       = "CustodianDatabaseSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_db_instance.custodian.master_user_secret[0].secret_arn]
  }
}

resource "aws_iam_role_policy" "execution_secret" {
  name   = "custodian-database-secret"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution_secret.json
}
