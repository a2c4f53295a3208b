# The containers: the same images and commands as docker-compose.yml, configured for AWS.
locals {
  healthcheck = "ecomm-healthcheck"
  # as docker-compose.yml's airflow-worker healthcheck, with the host name from Python (a shell on
  # Fargate need not set HOSTNAME)
  celery_ping = join(" ", [
    "celery --app airflow.providers.celery.executors.celery_executor.app inspect ping",
    "-d celery@$(python -c 'import socket; print(socket.gethostname())')",
  ])

  # name => what runs; `host` = the ALB host name (null: not behind the ALB); `role` picks the
  # task role and the secrets; `discovery` registers <name>.<namespace> for the other tasks.
  services = {
    fastapi = {
      image      = "fastapi", command = null, port = 8000, host = "api", health_path = "/ready",
      health_url = "http://localhost:8000/ready", health_expect = null,
      cpu        = 1024, memory = 4096, role = "app", discovery = false, desired = var.api_desired_count
    }
    streamlit = {
      image      = "streamlit", command = null, port = 8501, host = "dashboard", health_path = "/_stcore/health",
      health_url = "http://localhost:8501/_stcore/health", health_expect = null,
      cpu        = 512, memory = 2048, role = "app", discovery = false, desired = 1
    }
    mlflow = {
      image      = "mlflow", command = null, port = 5050, host = "mlflow", health_path = "/health",
      health_url = "http://localhost:5050/health", health_expect = null,
      cpu        = 512, memory = 2048, role = "mlflow", discovery = true, desired = 1
    }
    airflow-api-server = {
      image         = "airflow", command = ["airflow", "api-server"], port = 8080, host = "airflow",
      health_path   = "/api/v2/monitor/health", health_url = "http://localhost:8080/api/v2/monitor/health",
      health_expect = "metadatabase.status=healthy",
      cpu           = 1024, memory = 2048, role = "airflow", discovery = true, desired = 1
    }
    airflow-scheduler = {
      image      = "airflow", command = ["airflow", "scheduler"], port = null, host = null, health_path = null,
      health_url = "http://localhost:8974/health", health_expect = null,
      cpu        = 1024, memory = 2048, role = "airflow", discovery = false, desired = 1
    }
    # CeleryExecutor: the DAGs' tasks (loads, dbt, training) run here, queued through Redis
    # (modules/redis); the worker's log server (8793) answers the api-server's log requests.
    airflow-worker = {
      image      = "airflow", command = ["airflow", "celery", "worker"], port = null, host = null, health_path = null,
      health_url = null, health_expect = null, health_command = local.celery_ping,
      cpu        = 2048, memory = 8192, role = "airflow", discovery = false, desired = var.airflow_worker_count
    }
    airflow-dag-processor = {
      image         = "airflow", command = ["airflow", "dag-processor"], port = null, host = null, health_path = null,
      health_url    = "http://airflow-api-server.${local.namespace}:8080/api/v2/monitor/health",
      health_expect = "dag_processor.status=healthy",
      cpu           = 512, memory = 2048, role = "airflow", discovery = false, desired = 1
    }
    airflow-triggerer = {
      image         = "airflow", command = ["airflow", "triggerer"], port = null, host = null, health_path = null,
      health_url    = "http://airflow-api-server.${local.namespace}:8080/api/v2/monitor/health",
      health_expect = "triggerer.status=healthy",
      cpu           = 512, memory = 1024, role = "airflow", discovery = false, desired = 1
    }
  }

  # One-shot jobs (`aws ecs run-task`, see the environment's outputs), in this order on a new
  # environment: db-migrate, airflow-init, bootstrap.
  jobs = {
    db-migrate = {
      image = "ecomm", command = ["sh", "-c", "ecomm db up && ecomm db migrate"],
      cpu   = 512, memory = 1024, role = "app"
    }
    airflow-init = {
      image = "airflow",
      command = ["bash", "-c", join(" ", [
        "python -c \"from ecomm.orchestration.config import prepare_home;",
        "from ecomm.settings import get_settings; prepare_home(get_settings())\"",
        "&& airflow db migrate",
      ])],
      cpu = 512, memory = 2048, role = "airflow"
    }
    bootstrap = {
      image = "ecomm", command = ["ecomm", "pipeline", "bootstrap"],
      cpu   = 2048, memory = 8192, role = "airflow"
    }
  }

  # the drift reports' EFS directory (aws_efs_access_point.reports): Airflow writes, the dashboard reads
  reports_path = "/var/lib/ecomm-reports"
  reports_mode = { for k, t in local.tasks : k => t.role == "airflow" ? "write" : k == "streamlit" ? "read" : null }

  secret_key_cmd = "python -c \"import json,sys; sys.stdout.write(json.load(open(sys.argv[1]))[sys.argv[2]])\" /var/lib/ecomm/airflow/ecomm_secrets.json"

  environment = {
    app = {
      ECOMM_HOME                = "/var/lib/ecomm"
      ECOMM_DRIFT_REPORTS       = local.reports_path
      ECOMM_MLFLOW_TRACKING_URI = "http://mlflow.${local.namespace}:5050"
    }
    mlflow = {
      MLFLOW_ARTIFACTS_DESTINATION = "s3://${var.mlflow_bucket_name}/artifacts"
      MLFLOW_SERVER_ALLOWED_HOSTS  = "mlflow.${var.domain_name},mlflow.${local.namespace}:5050,localhost:*"
    }
    airflow = {
      ECOMM_HOME                                        = "/var/lib/ecomm"
      ECOMM_DRIFT_REPORTS                               = local.reports_path
      ECOMM_MLFLOW_TRACKING_URI                         = "http://mlflow.${local.namespace}:5050"
      ECOMM_AIRFLOW_ADMIN_USER                          = "admin"
      AIRFLOW_HOME                                      = "/var/lib/ecomm/airflow"
      AIRFLOW__CORE__DAGS_FOLDER                        = "/opt/ecomm/airflow/dags"
      AIRFLOW__CORE__LOAD_EXAMPLES                      = "False"
      AIRFLOW__CORE__EXECUTOR                           = "CeleryExecutor"
      AIRFLOW__CELERY__WORKER_CONCURRENCY               = "2"
      AIRFLOW__CORE__PARALLELISM                        = "4"
      AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION        = "False"
      AIRFLOW__CORE__EXECUTION_API_SERVER_URL           = "http://airflow-api-server.${local.namespace}:8080/execution/"
      AIRFLOW__CORE__AUTH_MANAGER                       = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
      AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS          = "admin:admin"
      AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE = "/var/lib/ecomm/airflow/simple_auth_manager_passwords.json"
      AIRFLOW__CORE__FERNET_KEY_CMD                     = "${local.secret_key_cmd} fernet_key"
      AIRFLOW__API_AUTH__JWT_SECRET_CMD                 = "${local.secret_key_cmd} jwt_secret"
      AIRFLOW__API__SECRET_KEY_CMD                      = "${local.secret_key_cmd} api_secret_key"
      AIRFLOW__API__BASE_URL                            = "https://airflow.${var.domain_name}"
      AIRFLOW__API__WORKERS                             = "2"
      AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK           = "True"
      AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL          = "30"
    }
  }

  secrets = {
    app = {
      DATABASE_URL   = var.database_secret_arns["database-url"]
      ECOMM_API_KEYS = aws_secretsmanager_secret.api_keys.arn
    }
    mlflow = { MLFLOW_BACKEND_STORE_URI = var.database_secret_arns["mlflow-backend-store-uri"] }
    airflow = {
      DATABASE_URL                        = var.database_secret_arns["database-url"]
      AIRFLOW__DATABASE__SQL_ALCHEMY_CONN = var.database_secret_arns["airflow-sql-alchemy-conn"]
      # Celery's result backend is left unset, so Airflow keeps the results in its metadata database
      AIRFLOW__CELERY__BROKER_URL  = var.celery_broker_secret_arn
      ECOMM_AIRFLOW_ADMIN_PASSWORD = aws_secretsmanager_secret.airflow_admin.arn
    }
  }

  # Writable paths under a read-only root file system: ECOMM_HOME (EFS for the Airflow role,
  # where the raw batches, Airflow's logs and keys must outlive a task), /tmp and the user's home.
  job_defaults = {
    port      = null, host = null, health_path = null, health_url = null, health_expect = null,
    discovery = false, desired = 0
  }
  tasks = merge(
    { for k, s in local.services : k => merge(s, { job = false }) },
    { for k, j in local.jobs : k => merge(local.job_defaults, j, { job = true }) },
  )
}

resource "aws_ecs_task_definition" "this" {
  for_each                 = local.tasks
  family                   = "${var.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task[each.value.role].arn
  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }
  volume {
    name = "tmp"
  }
  volume {
    name = "user-home"
  }
  dynamic "volume" {
    for_each = each.value.role == "airflow" ? [] : ["ecomm-home"]
    content {
      name = volume.value
    }
  }
  # EFS volumes, by name => access point: ECOMM_HOME for the Airflow role, the drift reports for
  # the tasks that write or read them
  dynamic "volume" {
    for_each = merge(
      each.value.role == "airflow" ? { ecomm-home = aws_efs_access_point.home.id } : {},
      local.reports_mode[each.key] == null ? {} : { drift-reports = aws_efs_access_point.reports.id },
    )
    content {
      name = volume.key
      efs_volume_configuration {
        file_system_id     = aws_efs_file_system.home.id
        transit_encryption = "ENABLED"
        authorization_config {
          access_point_id = volume.value
          iam             = "ENABLED"
        }
      }
    }
  }
  container_definitions = jsonencode([merge(
    {
      name                   = each.key
      image                  = "${local.images[each.value.image]}:${local.tag}"
      essential              = true
      readonlyRootFilesystem = true
      user                   = "10001:10001"
      environment            = [for k, v in local.environment[each.value.role] : { name = k, value = v }]
      secrets                = [for k, v in local.secrets[each.value.role] : { name = k, valueFrom = v }]
      mountPoints = concat([
        { sourceVolume = "tmp", containerPath = "/tmp", readOnly = false },
        { sourceVolume = "user-home", containerPath = "/home/ecomm", readOnly = false },
        { sourceVolume = "ecomm-home", containerPath = each.value.role == "mlflow" ? "/var/lib/mlflow" : "/var/lib/ecomm", readOnly = false },
        ], local.reports_mode[each.key] == null ? [] : [
        { sourceVolume = "drift-reports", containerPath = local.reports_path, readOnly = local.reports_mode[each.key] == "read" },
      ])
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.service[each.key].name
          awslogs-region        = data.aws_region.current.name
          awslogs-stream-prefix = each.key
        }
      }
    },
    # The optional parts go through JSON so that both branches of each condition have one type
    # (an empty object and an object with attributes do not; `terraform validate` refuses them).
    jsondecode(each.value.command == null ? "{}" : jsonencode({ command = each.value.command })),
    jsondecode(each.value.job ? "{}" : jsonencode({
      portMappings = each.value.port == null ? [] : [{ containerPort = each.value.port, protocol = "tcp" }]
      healthCheck = {
        command = try(each.value.health_command, null) != null ? ["CMD-SHELL", each.value.health_command] : concat(
          ["CMD", local.healthcheck, each.value.health_url],
          each.value.health_expect == null ? [] : [each.value.health_expect],
        )
        interval    = 30
        timeout     = 10
        retries     = 5
        startPeriod = 120
      }
    })),
  )])
  tags = var.tags
}

resource "aws_ecs_service" "this" {
  for_each                          = local.services
  name                              = each.key
  cluster                           = aws_ecs_cluster.this.id
  task_definition                   = aws_ecs_task_definition.this[each.key].arn
  desired_count                     = each.value.desired
  launch_type                       = "FARGATE"
  platform_version                  = "LATEST"
  enable_execute_command            = false
  propagate_tags                    = "SERVICE"
  health_check_grace_period_seconds = each.value.host == null ? null : 180
  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }
  dynamic "load_balancer" {
    for_each = each.value.host == null ? [] : [each.key]
    content {
      target_group_arn = aws_lb_target_group.this[each.key].arn
      container_name   = each.key
      container_port   = each.value.port
    }
  }
  dynamic "service_registries" {
    for_each = each.value.discovery ? [each.key] : []
    content {
      registry_arn = aws_service_discovery_service.this[each.key].arn
    }
  }
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
  depends_on = [aws_lb_listener.https]
  tags       = var.tags
}
