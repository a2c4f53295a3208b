# ECS Fargate: the platform's long-running services behind one ALB (host-based routing), its
# one-shot jobs as task definitions run with `aws ecs run-task`, CloudWatch logs, Cloud Map names
# for service-to-service calls, and EFS for ECOMM_HOME (the simulated shop's raw batches, Airflow's
# logs and shared keys), mounted by the Airflow components and the bootstrap job; its drift-reports
# directory is also mounted, read-only, by the dashboard.
#
# Counterparts of docker-compose.yml (tests/unit/test_deploy_terraform.py checks the mapping):
# every compose service runs here except postgres (RDS instead), redis (ElastiCache, modules/redis),
# jupyter (a developer's tool), dbt-docs, prometheus and stream (the simulated shop's replay). Airflow runs the CeleryExecutor of the
# `scale` profile: var.airflow_worker_count airflow-worker services take the DAGs' tasks.
data "aws_region" "current" {}

locals {
  namespace = "${var.name}.local"
  images    = var.repository_urls
  tag       = var.image_tag
}

resource "aws_ecs_cluster" "this" {
  name = var.name
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
  configuration {
    execute_command_configuration {
      kms_key_id = var.kms_key_arn
      logging    = "OVERRIDE"
      log_configuration {
        cloud_watch_encryption_enabled = true
        cloud_watch_log_group_name     = aws_cloudwatch_log_group.exec.name
      }
    }
  }
  tags = var.tags
}

resource "aws_cloudwatch_log_group" "service" {
  for_each          = merge(local.services, local.jobs)
  name              = "/${var.name}/ecs/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_cloudwatch_log_group" "exec" {
  name              = "/${var.name}/ecs/exec"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_service_discovery_private_dns_namespace" "this" {
  name        = local.namespace
  description = "Service-to-service names of ${var.name} (mlflow, airflow-api-server)"
  vpc         = var.vpc_id
  tags        = var.tags
}

resource "aws_service_discovery_service" "this" {
  for_each = toset(["mlflow", "airflow-api-server"])
  name     = each.value
  dns_config {
    namespace_id   = aws_service_discovery_private_dns_namespace.this.id
    routing_policy = "MULTIVALUE"
    dns_records {
      ttl  = 10
      type = "A"
    }
  }
  health_check_custom_config {
    failure_threshold = 1
  }
  tags = var.tags
}

# ---------------------------------------------------------------------------------- security
resource "aws_security_group" "tasks" {
  name        = "${var.name}-tasks"
  description = "ECS tasks: from the ALB and each other; out to AWS APIs, PostgreSQL and EFS"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "tasks_from_alb" {
  for_each                     = toset([for s in local.services : tostring(s.port) if s.port != null])
  security_group_id            = aws_security_group.tasks.id
  description                  = "Service port ${each.value} from the ALB"
  referenced_security_group_id = aws_security_group.alb.id
  ip_protocol                  = "tcp"
  from_port                    = tonumber(each.value)
  to_port                      = tonumber(each.value)
}

resource "aws_vpc_security_group_ingress_rule" "tasks_from_tasks" {
  for_each                     = toset(["5050", "8080", "8793", "8794"])
  security_group_id            = aws_security_group.tasks.id
  description                  = "Task to task on ${each.value} (MLflow, Airflow API and log servers)"
  referenced_security_group_id = aws_security_group.tasks.id
  ip_protocol                  = "tcp"
  from_port                    = tonumber(each.value)
  to_port                      = tonumber(each.value)
}

resource "aws_vpc_security_group_egress_rule" "tasks_https" {
  security_group_id = aws_security_group.tasks.id
  description       = "HTTPS to AWS APIs (ECR, Secrets Manager, S3, CloudWatch) and package indexes"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "tasks_in_vpc" {
  for_each          = toset(["2049", "5050", "5432", "6379", "8080", "8793", "8794"])
  security_group_id = aws_security_group.tasks.id
  description       = "Inside the VPC on ${each.value} (EFS, MLflow, PostgreSQL, Redis, Airflow)"
  cidr_ipv4         = var.vpc_cidr_block
  ip_protocol       = "tcp"
  from_port         = tonumber(each.value)
  to_port           = tonumber(each.value)
}

resource "aws_security_group" "efs" {
  name        = "${var.name}-efs"
  description = "EFS of ECOMM_HOME: NFS from the ECS tasks only"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "efs_from_tasks" {
  security_group_id            = aws_security_group.efs.id
  description                  = "NFS from the ECS tasks"
  referenced_security_group_id = aws_security_group.tasks.id
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
}

# ---------------------------------------------------------------------------------------- EFS
resource "aws_efs_file_system" "home" {
  creation_token = "${var.name}-home"
  encrypted      = true
  kms_key_id     = var.kms_key_arn
  lifecycle_policy {
    transition_to_ia = "AFTER_30_DAYS"
  }
  tags = merge(var.tags, { Name = "${var.name}-home" })
}

resource "aws_efs_backup_policy" "home" {
  file_system_id = aws_efs_file_system.home.id
  backup_policy {
    status = "ENABLED"
  }
}

resource "aws_efs_mount_target" "home" {
  count           = length(var.private_subnet_ids)
  file_system_id  = aws_efs_file_system.home.id
  subnet_id       = var.private_subnet_ids[count.index]
  security_groups = [aws_security_group.efs.id]
}

# The images run as uid/gid 10001 (Dockerfile); the access point makes EFS agree.
resource "aws_efs_access_point" "home" {
  file_system_id = aws_efs_file_system.home.id
  posix_user {
    uid = 10001
    gid = 10001
  }
  root_directory {
    path = "/ecomm-home"
    creation_info {
      owner_uid   = 10001
      owner_gid   = 10001
      permissions = "0750"
    }
  }
  tags = var.tags
}

# The daily HTML drift reports (ECOMM_DRIFT_REPORTS): written by Airflow's model_drift task and read
# by the dashboard, in a directory of their own, so the dashboard mounts them without the rest of
# ECOMM_HOME (Airflow's keys), as docker-compose.yml's drift-reports volume does.
resource "aws_efs_access_point" "reports" {
  file_system_id = aws_efs_file_system.home.id
  posix_user {
    uid = 10001
    gid = 10001
  }
  root_directory {
    path = "/ecomm-reports"
    creation_info {
      owner_uid   = 10001
      owner_gid   = 10001
      permissions = "0750"
    }
  }
  tags = var.tags
}
