# Least privilege: the execution role pulls images, writes logs and reads exactly the secrets the
# tasks name; each task role grants only what its containers call (no role for the API and the
# dashboard beyond assuming it: they talk to PostgreSQL and MLflow, not to AWS).
data "aws_iam_policy_document" "assume_ecs_tasks" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = "${var.name}-ecs-execution"
  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

resource "aws_iam_role_policy" "execution_secrets" {
  name = "read-task-secrets"
  role = aws_iam_role.execution.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue"]
        Resource = concat(values(var.database_secret_arns), [var.celery_broker_secret_arn, aws_secretsmanager_secret.airflow_admin.arn, aws_secretsmanager_secret.api_keys.arn])
      },
      {
        Effect   = "Allow"
        Action   = ["kms:Decrypt"]
        Resource = [var.kms_key_arn]
      },
    ]
  })
}

resource "aws_iam_role" "task" {
  for_each           = toset(["app", "mlflow", "airflow"])
  name               = "${var.name}-task-${each.value}"
  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "mlflow_artifacts" {
  name = "mlflow-artifacts"
  role = aws_iam_role.task["mlflow"].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["s3:ListBucket"]
        Resource = [var.mlflow_bucket_arn]
      },
      {
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
        Resource = ["${var.mlflow_bucket_arn}/*"]
      },
      {
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource = [var.kms_key_arn]
      },
    ]
  })
}

resource "aws_iam_role_policy" "airflow" {
  name = "data-lake-and-home"
  role = aws_iam_role.task["airflow"].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["s3:ListBucket"]
        Resource = [var.data_lake_bucket_arn]
      },
      {
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject"]
        Resource = ["${var.data_lake_bucket_arn}/*"]
      },
      {
        Effect   = "Allow"
        Action   = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
        Resource = [aws_efs_file_system.home.arn]
        Condition = {
          StringEquals = {
            "elasticfilesystem:AccessPointArn" = [aws_efs_access_point.home.arn, aws_efs_access_point.reports.arn]
          }
        }
      },
      {
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource = [var.kms_key_arn]
      },
    ]
  })
}

# The dashboard reads the drift reports Airflow writes: mount (no write) of their access point only.
resource "aws_iam_role_policy" "app_reports" {
  name = "drift-reports-read"
  role = aws_iam_role.task["app"].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["elasticfilesystem:ClientMount"]
        Resource = [aws_efs_file_system.home.arn]
        Condition = {
          StringEquals = { "elasticfilesystem:AccessPointArn" = aws_efs_access_point.reports.arn }
        }
      },
    ]
  })
}

# The Airflow login (simple auth manager) of the `admin` user, written by airflow-init.
resource "random_password" "airflow_admin" {
  length  = 24
  special = false
}

resource "aws_secretsmanager_secret" "airflow_admin" {
  # checkov:skip=CKV2_AWS_57: airflow-init writes this password into Airflow's passwords file; rotate by replacing random_password.airflow_admin and re-running the airflow-init task
  name                    = "${var.name}/airflow-admin-password"
  description             = "Password of the Airflow admin user"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 7
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "airflow_admin" {
  secret_id     = aws_secretsmanager_secret.airflow_admin.id
  secret_string = random_password.airflow_admin.result
}

# The prediction API's accepted X-API-Key values (ECOMM_API_KEYS, a JSON list): one generated key.
resource "random_password" "api_key" {
  length  = 40
  special = false
}

resource "aws_secretsmanager_secret" "api_keys" {
  # checkov:skip=CKV2_AWS_57: clients hold this key; rotate by adding a key to the list, moving the clients, then removing the old one (a Lambda cannot do that hand-over)
  name                    = "${var.name}/api-keys"
  description             = "ECOMM_API_KEYS of the prediction API (JSON list of accepted X-API-Key values)"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 7
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "api_keys" {
  secret_id     = aws_secretsmanager_secret.api_keys.id
  secret_string = jsonencode([random_password.api_key.result])
}
