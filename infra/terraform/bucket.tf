# The object store: one S3 bucket for the recordings' encrypted payloads. Payloads are
# already end-to-end encrypted by the cameras (age); server-side encryption with a KMS key
# is defence in depth, not what keeps recordings secret.

resource "aws_kms_key" "recordings" {
  description             = "${var.name}: server-side encryption of the recordings bucket"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  # No key policy given: AWS's default one lets this account's IAM policies grant use of
  # the key; only the storage task role is granted it (iam.tf).
}

resource "aws_kms_alias" "recordings" {
  name          = "alias/${var.name}-recordings"
  target_key_id = aws_kms_key.recordings.key_id
}

resource "aws_s3_bucket" "recordings" {
  bucket = var.bucket_name
  # A bucket holding recordings is never destroyed with its objects by `tofu destroy`.
  force_destroy = false
}

resource "aws_s3_bucket_ownership_controls" "recordings" {
  bucket = aws_s3_bucket.recordings.id
  rule {
    object_ownership = "BucketOwnerEnforced" # no ACLs: access is IAM policy only
  }
}

resource "aws_s3_bucket_public_access_block" "recordings" {
  bucket                  = aws_s3_bucket.recordings.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# Versioning: an object deleted or overwritten by mistake (or by a compromised storage
# service, which is not allowed s3:DeleteObjectVersion) can be recovered until its
# noncurrent version expires.
resource "aws_s3_bucket_versioning" "recordings" {
  bucket = aws_s3_bucket.recordings.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "recordings" {
  bucket = aws_s3_bucket.recordings.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.recordings.arn
    }
    bucket_key_enabled = true # one data key per bucket key period, not one KMS call per object
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "recordings" {
  bucket = aws_s3_bucket.recordings.id

  # A deleted payload (the sweeper deletes what retention or the customer removed; its key
  # is crypto-shredded already) stays as a noncurrent version for this many days, then goes.
  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
    expiration {
      expired_object_delete_marker = true
    }
  }

  # Uploads the cameras started and never completed (camvault's own upload expiry is 6 h).
  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.recordings]
}

# Only TLS: any request over plain HTTP is denied, whoever makes it (presigned URLs included).
data "aws_iam_policy_document" "bucket" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.recordings.arn,
      "${aws_s3_bucket.recordings.arn}/*",
    ]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "recordings" {
  bucket     = aws_s3_bucket.recordings.id
  policy     = data.aws_iam_policy_document.bucket.json
  depends_on = [aws_s3_bucket_public_access_block.recordings]
}
