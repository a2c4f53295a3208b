# PostgreSQL 16 on RDS in the private subnets: encrypted with the platform key, automated backups,
# Multi-AZ, deletion protection, logs to CloudWatch, reachable only from the ECS tasks.
# One server holds the three databases of docs/architecture.md#databases-and-schemas (created by the db-migrate task, `ecomm db up`).
# The master password is generated here (URL-safe, so it can sit in a connection URL) and kept
# with the connection URLs the services read in Secrets Manager; Terraform state holds it too, so
# the state backend must be encrypted (environments/prod: S3 backend with encrypt = true).
resource "random_password" "master" {
  length  = 40
  special = false
}

resource "aws_db_subnet_group" "this" {
  name       = var.name
  subnet_ids = var.subnet_ids
  tags       = var.tags
}

resource "aws_security_group" "db" {
  name        = "${var.name}-postgres"
  description = "PostgreSQL: reachable from the ECS tasks only"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "from_tasks" {
  security_group_id            = aws_security_group.db.id
  description                  = "PostgreSQL from the ECS tasks"
  referenced_security_group_id = var.client_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}

resource "aws_db_parameter_group" "this" {
  name   = "${var.name}-postgres16"
  family = "postgres16"
  parameter {
    name  = "log_statement"
    value = "ddl"
  }
  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }
  parameter {
    name         = "rds.force_ssl"
    value        = "1"
    apply_method = "pending-reboot"
  }
  tags = var.tags
}

resource "aws_iam_role" "monitoring" {
  name = "${var.name}-rds-monitoring"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "monitoring.rds.amazonaws.com" }
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "monitoring" {
  role       = aws_iam_role.monitoring.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

resource "aws_db_instance" "this" {
  identifier                            = var.name
  engine                                = "postgres"
  engine_version                        = var.engine_version
  instance_class                        = var.instance_class
  allocated_storage                     = var.allocated_storage
  max_allocated_storage                 = var.allocated_storage * 4
  storage_type                          = "gp3"
  storage_encrypted                     = true
  kms_key_id                            = var.kms_key_arn
  db_name                               = "data_warehouse"
  username                              = var.master_username
  password                              = random_password.master.result
  port                                  = 5432
  db_subnet_group_name                  = aws_db_subnet_group.this.name
  vpc_security_group_ids                = [aws_security_group.db.id]
  parameter_group_name                  = aws_db_parameter_group.this.name
  publicly_accessible                   = false
  multi_az                              = true
  backup_retention_period               = var.backup_retention_days
  backup_window                         = "03:00-04:00"
  maintenance_window                    = "sun:04:30-sun:05:30"
  copy_tags_to_snapshot                 = true
  deletion_protection                   = true
  skip_final_snapshot                   = false
  final_snapshot_identifier             = "${var.name}-final"
  auto_minor_version_upgrade            = true
  iam_database_authentication_enabled   = true
  enabled_cloudwatch_logs_exports       = ["postgresql", "upgrade"]
  monitoring_interval                   = 60
  monitoring_role_arn                   = aws_iam_role.monitoring.arn
  performance_insights_enabled          = true
  performance_insights_kms_key_id       = var.kms_key_arn
  performance_insights_retention_period = 7
  tags                                  = var.tags
}

locals {
  server = "${var.master_username}:${random_password.master.result}@${aws_db_instance.this.address}:${aws_db_instance.this.port}"
  connection_urls = {
    # DATABASE_URL of the ecomm package (its database part names the warehouse)
    database-url = "postgresql://${local.server}/data_warehouse"
    # Airflow's metadata database (AIRFLOW__DATABASE__SQL_ALCHEMY_CONN)
    airflow-sql-alchemy-conn = "postgresql+psycopg2://${local.server}/airflow_metadata"
    # MLflow's backend store (MLFLOW_BACKEND_STORE_URI)
    mlflow-backend-store-uri = "postgresql://${local.server}/mlflow_tracking"
  }
}

resource "aws_secretsmanager_secret" "url" {
  for_each = local.connection_urls
  # checkov:skip=CKV2_AWS_57: the URL embeds the master password Terraform generates; rotate it by replacing random_password.master and applying, which rewrites these secrets and the RDS password together
  name                    = "${var.name}/${each.key}"
  description             = "Connection URL read by the ECS tasks (${each.key})"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 7
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "url" {
  for_each      = local.connection_urls
  secret_id     = aws_secretsmanager_secret.url[each.key].id
  secret_string = each.value
}
