output "alb_dns_name" {
  description = "DNS name of the ALB (point api., dashboard., mlflow., airflow. of the domain at it)."
  value       = aws_lb.this.dns_name
}

output "urls" {
  description = "URL of each service behind the ALB."
  value       = { for key, s in local.services : key => "https://${s.host}.${var.domain_name}" if s.host != null }
}

output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "task_security_group_id" {
  description = "Security group of the tasks (the database admits it)."
  value       = aws_security_group.tasks.id
}

output "job_task_definitions" {
  description = "Task definition ARN of each one-shot job (db-migrate, airflow-init, bootstrap)."
  value       = { for key in keys(local.jobs) : key => aws_ecs_task_definition.this[key].arn }
}

output "service_names" {
  description = "The ECS services (counterparts of docker-compose.yml's long-running services)."
  value       = keys(local.services)
}

output "api_keys_secret_arn" {
  description = "Secrets Manager ARN of the API keys (JSON list) clients send as X-API-Key."
  value       = aws_secretsmanager_secret.api_keys.arn
}
