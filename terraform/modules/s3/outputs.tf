output "data_lake_bucket" {
  description = "Name of the data-lake bucket."
  value       = aws_s3_bucket.this["data-lake"].id
}

output "mlflow_artifacts_bucket" {
  description = "Name of MLflow's artifact bucket."
  value       = aws_s3_bucket.this["mlflow-artifacts"].id
}

output "bucket_arns" {
  description = "ARNs of the data-lake and MLflow buckets, by name."
  value       = { for key, bucket in aws_s3_bucket.this : key => bucket.arn }
}

output "logs_bucket" {
  description = "Name of the access-log bucket (ALB logs under alb/)."
  value       = aws_s3_bucket.logs.id
}
