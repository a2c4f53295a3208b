# Redis on ElastiCache: the Celery broker of Airflow's CeleryExecutor, the AWS counterpart of
# docker-compose.yml's `scale` profile (redis + airflow-worker). Two nodes in two AZs with automatic
# failover, encrypted at rest with the platform key and in transit (TLS, AUTH token), reachable
# only from the ECS tasks. The broker URL (with the token) is kept in Secrets Manager for the
# Airflow tasks; Terraform state holds the token too (the state backend is encrypted).
resource "random_password" "auth" {
  length  = 40
  special = false
}

resource "aws_elasticache_subnet_group" "this" {
  name       = var.name
  subnet_ids = var.subnet_ids
  tags       = var.tags
}

resource "aws_security_group" "redis" {
  name        = "${var.name}-redis"
  description = "Redis (Celery broker): reachable from the ECS tasks only"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "from_tasks" {
  security_group_id            = aws_security_group.redis.id
  description                  = "Redis from the ECS tasks"
  referenced_security_group_id = var.client_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
}

resource "aws_cloudwatch_log_group" "slow_log" {
  name              = "/${var.name}/elasticache/slow-log"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_elasticache_replication_group" "this" {
  replication_group_id       = var.name
  description                = "Celery broker of ${var.name}'s Airflow"
  engine                     = "redis"
  engine_version             = var.engine_version
  node_type                  = var.node_type
  num_cache_clusters         = 2
  port                       = 6379
  subnet_group_name          = aws_elasticache_subnet_group.this.name
  security_group_ids         = [aws_security_group.redis.id]
  automatic_failover_enabled = true
  multi_az_enabled           = true
  at_rest_encryption_enabled = true
  kms_key_id                 = var.kms_key_arn
  transit_encryption_enabled = true
  auth_token                 = random_password.auth.result
  snapshot_retention_limit   = 1
  auto_minor_version_upgrade = true
  apply_immediately          = false
  log_delivery_configuration {
    destination      = aws_cloudwatch_log_group.slow_log.name
    destination_type = "cloudwatch-logs"
    log_format       = "json"
    log_type         = "slow-log"
  }
  tags = var.tags
}

resource "aws_secretsmanager_secret" "broker_url" {
  # checkov:skip=CKV2_AWS_57: the URL embeds the AUTH token Terraform generates; rotate it by replacing random_password.auth and applying, which rewrites this secret and the replication group's token together
  name                    = "${var.name}/celery-broker-url"
  description             = "AIRFLOW__CELERY__BROKER_URL of the Airflow tasks (rediss:// with the AUTH token)"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 7
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "broker_url" {
  secret_id = aws_secretsmanager_secret.broker_url.id
  # rediss: TLS, the server's certificate checked against the system's CAs
  secret_string = "rediss://:${random_password.auth.result}@${aws_elasticache_replication_group.this.primary_endpoint_address}:6379/0?ssl_cert_reqs=required"
}
