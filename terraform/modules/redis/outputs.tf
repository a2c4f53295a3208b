output "primary_endpoint" {
  description = "Host name of the broker's primary node."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "broker_url_secret_arn" {
  description = "Secrets Manager ARN of the Celery broker URL (AIRFLOW__CELERY__BROKER_URL)."
  value       = aws_secretsmanager_secret.broker_url.arn
}
