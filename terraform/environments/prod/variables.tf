variable "region" {
  description = "AWS region."
  type        = string
  default     = "eu-west-1"
}

variable "vpc_cidr_block" {
  description = "CIDR block of the VPC."
  type        = string
  default     = "10.40.0.0/16"
}

variable "domain_name" {
  description = "Domain of the platform: api., dashboard., mlflow. and airflow. of it point at the ALB."
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate (in var.region) covering *.<domain_name>."
  type        = string
}

variable "allowed_cidrs" {
  description = "Networks allowed to reach the ALB (office or VPN ranges)."
  type        = list(string)
}

variable "image_tag" {
  description = "Image tag to deploy (the same tag in every ECR repository)."
  type        = string
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "api_desired_count" {
  description = "Tasks of the prediction API."
  type        = number
  default     = 2
}

variable "airflow_worker_count" {
  description = "Airflow Celery workers (ECS tasks) running the DAGs' tasks."
  type        = number
  default     = 2
}
