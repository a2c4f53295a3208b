variable "name" {
  description = "Name prefix of every resource."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the database."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the database (two AZs at least)."
  type        = list(string)
}

variable "client_security_group_id" {
  description = "Security group of the ECS tasks, the only clients."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key encrypting storage, Performance Insights and the secrets."
  type        = string
}

variable "engine_version" {
  description = "PostgreSQL major version (16, the version the platform embeds)."
  type        = string
  default     = "16"
}

variable "instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "allocated_storage" {
  description = "Initial storage in GiB (autoscaling up to 4x)."
  type        = number
  default     = 50
}

variable "master_username" {
  description = "Master user of the server (owns the three databases)."
  type        = string
  default     = "ecomm"
}

variable "backup_retention_days" {
  description = "Days of automated backups."
  type        = number
  default     = 14
}

variable "tags" {
  description = "Tags of every resource."
  type        = map(string)
  default     = {}
}
