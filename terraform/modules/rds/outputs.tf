output "address" {
  description = "Host name of the PostgreSQL server."
  value       = aws_db_instance.this.address
}

output "secret_arns" {
  description = "Secrets Manager ARNs of the connection URLs, by name (database-url, airflow-sql-alchemy-conn, mlflow-backend-store-uri)."
  value       = { for key, secret in aws_secretsmanager_secret.url : key => secret.arn }
}
