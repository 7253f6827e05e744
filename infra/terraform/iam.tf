# Identities of the storage side's ECS tasks. The task role is what the storage API and the
# sweeper run as (their S3 credentials: boto3 finds the task role, so no access key exists
# anywhere); the execution role is what ECS itself uses to start them (pull the image, write
# logs, read the database secret).

data "aws_caller_identity" "current" {}

data "aws_iam_policy_document" "ecs_tasks_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    # Only ECS tasks of this account (the confused-deputy guard AWS recommends).
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "storage_task" {
  name               = "${var.name}-storage-task"
  description        = "camvault storage API and sweeper: object access to the recordings bucket only"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
}

# Least privilege for the storage service, and nothing else anywhere for S3 (the custodians'
# roles have no S3 permission at all). What camvault's S3 blob store calls:
#   HeadBucket, ListObjectsV2 -> s3:ListBucket; ListMultipartUploads -> s3:ListBucketMultipartUploads;
#   GetObject/HeadObject, PutObject/CopyObject/multipart, DeleteObject -> the object actions.
# Deliberately absent: s3:DeleteObjectVersion (a compromised service cannot remove the
# versions that let a deletion be undone; they expire by lifecycle only), any bucket
# administration (policy, versioning, lifecycle, encryption, ACL), any other bucket, any
# wildcard.
data "aws_iam_policy_document" "storage_task" {
  statement {
    sid = "RecordingsBucket"
    actions = [
      "s3:ListBucket",
      "s3:ListBucketMultipartUploads",
    ]
    resources = [aws_s3_bucket.recordings.arn]
  }

  statement {
    sid = "RecordingsObjects"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:DeleteObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = ["${aws_s3_bucket.recordings.arn}/*"]
  }

  # SSE-KMS: S3 uses the key on behalf of whoever reads or writes (presigned URLs are signed
  # by this role, so the cameras' uploads use it too); only through S3, only this key.
  statement {
    sid = "RecordingsKeyThroughS3"
    actions = [
      "kms:Decrypt",
      "kms:GenerateDataKey",
    ]
    resources = [aws_kms_key.recordings.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${var.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "storage_task" {
  name   = "recordings-bucket"
  role   = aws_iam_role.storage_task.id
  policy = data.aws_iam_policy_document.storage_task.json
}

# The migration task (camvault db upgrade) needs no AWS permission: no task role at all.

resource "aws_iam_role" "storage_execution" {
  name               = "${var.name}-storage-execution"
  description        = "ECS starting camvault's storage tasks: image, logs, database secret"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
}

resource "aws_iam_role_policy_attachment" "storage_execution" {
  role       = aws_iam_role.storage_execution.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

data "aws_iam_policy_document" "storage_execution_secret" {
  statement {
    sid       = "StorageDatabaseSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_db_instance.storage.master_user_secret[0].secret_arn]
  }
}

resource "aws_iam_role_policy" "storage_execution_secret" {
  name   = "storage-database-secret"
  role   = aws_iam_role.storage_execution.id
  policy = data.aws_iam_policy_document.storage_execution_secret.json
}
