variable "name" {
  description = "Name prefix of every resource."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the services."
  type        = string
}

variable "vpc_cidr_block" {
  description = "CIDR block of the VPC (task egress to PostgreSQL, EFS and each other stays inside it)."
  type        = string
}

variable "public_subnet_ids" {
  description = "Public subnets of the ALB."
  type        = list(string)
}

variable "private_subnet_ids" {
  description = "Private subnets of the tasks and the EFS mount targets."
  type        = list(string)
}

variable "allowed_cidrs" {
  description = "Networks allowed to reach the ALB (the UIs have logins, MLflow has none: keep this narrow)."
  type        = list(string)
}

variable "domain_name" {
  description = "Domain whose api., dashboard., mlflow. and airflow. names point at the ALB."
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate of *.<domain_name> for the HTTPS listener."
  type        = string
}

variable "repository_urls" {
  description = "ECR repository URL of each image (ecomm, airflow, mlflow, fastapi, streamlit)."
  type        = map(string)
}

variable "image_tag" {
  description = "Tag of the images to run (ECR tags are immutable: deploy by version)."
  type        = string
}

variable "database_secret_arns" {
  description = "Secrets Manager ARNs of the connection URLs (database-url, airflow-sql-alchemy-conn, mlflow-backend-store-uri)."
  type        = map(string)
}

variable "mlflow_bucket_name" {
  description = "Bucket of MLflow's artifacts."
  type        = string
}

variable "mlflow_bucket_arn" {
  description = "ARN of MLflow's artifact bucket."
  type        = string
}

variable "data_lake_bucket_arn" {
  description = "ARN of the data-lake bucket (read and written by Airflow's tasks)."
  type        = string
}

variable "access_logs_bucket" {
  description = "Bucket of the ALB's access logs."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key of logs, EFS and secrets."
  type        = string
}

variable "celery_broker_secret_arn" {
  description = "Secrets Manager ARN of the Celery broker URL (modules/redis) the Airflow tasks read."
  type        = string
}

variable "airflow_worker_count" {
  description = "Celery workers (ECS tasks) running the DAGs' tasks, two at a time each."
  type        = number
  default     = 2
}

variable "api_desired_count" {
  description = "Tasks of the prediction API."
  type        = number
  default     = 2
}

variable "log_retention_days" {
  description = "Retention of the CloudWatch log groups, in days."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags of every resource."
  type        = map(string)
  default     = {}
}
