# Buckets: the data lake (raw batches and exports), MLflow's artifact store, and the access-log
# bucket both of them (and the ALB) log to. All encrypted with the platform key, versioned, with
# public access blocked, owner-enforced objects and lifecycle rules.
data "aws_caller_identity" "current" {}

locals {
  buckets = {
    data-lake        = "${var.name}-data-lake-${data.aws_caller_identity.current.account_id}"
    mlflow-artifacts = "${var.name}-mlflow-artifacts-${data.aws_caller_identity.current.account_id}"
  }
}

resource "aws_s3_bucket" "this" {
  for_each = local.buckets
  # checkov:skip=CKV_AWS_144: cross-region replication doubles storage for data the platform can regenerate (the simulated shop is deterministic) and models it can retrain; versioning and RDS backups cover recovery
  # checkov:skip=CKV2_AWS_62: nothing consumes object events yet; Airflow schedules the work
  bucket = each.value
  tags   = var.tags
}

resource "aws_s3_bucket" "logs" {
  # checkov:skip=CKV_AWS_18: this is the access-log bucket; logging it into itself would loop
  # checkov:skip=CKV_AWS_144: access logs are not replicated across regions (see the buckets above)
  # checkov:skip=CKV2_AWS_62: nothing consumes access-log object events
  # checkov:skip=CKV_AWS_145: the ALB writes its access logs only to SSE-S3 buckets (AWS does not support SSE-KMS for ELB logs)
  bucket = "${var.name}-access-logs-${data.aws_caller_identity.current.account_id}"
  tags   = var.tags
}

resource "aws_s3_bucket_versioning" "this" {
  for_each = local.buckets
  bucket   = aws_s3_bucket.this[each.key].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_versioning" "logs" {
  bucket = aws_s3_bucket.logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = local.buckets
  bucket   = aws_s3_bucket.this[each.key].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each                = merge(local.buckets, { logs = "" })
  bucket                  = each.key == "logs" ? aws_s3_bucket.logs.id : aws_s3_bucket.this[each.key].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = merge(local.buckets, { logs = "" })
  bucket   = each.key == "logs" ? aws_s3_bucket.logs.id : aws_s3_bucket.this[each.key].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_logging" "this" {
  for_each      = local.buckets
  bucket        = aws_s3_bucket.this[each.key].id
  target_bucket = aws_s3_bucket.logs.id
  target_prefix = "s3/${each.key}/"
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  for_each = merge(local.buckets, { logs = "" })
  bucket   = each.key == "logs" ? aws_s3_bucket.logs.id : aws_s3_bucket.this[each.key].id
  rule {
    id     = "expire-old-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 90
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
  rule {
    id     = "expire-access-logs"
    status = each.key == "logs" ? "Enabled" : "Disabled"
    filter {}
    expiration {
      days = 400
    }
  }
}

data "aws_elb_service_account" "this" {}

# The ALB writes its access logs under alb/ of the log bucket.
resource "aws_s3_bucket_policy" "logs" {
  bucket = aws_s3_bucket.logs.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AlbAccessLogs"
        Effect    = "Allow"
        Principal = { AWS = data.aws_elb_service_account.this.arn }
        Action    = "s3:PutObject"
        Resource  = "${aws_s3_bucket.logs.arn}/alb/*"
      },
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.logs.arn, "${aws_s3_bucket.logs.arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
    ]
  })
}
