variable "name" {
  description = "Name prefix of every resource."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the broker."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the broker (two AZs at least)."
  type        = list(string)
}

variable "client_security_group_id" {
  description = "Security group of the ECS tasks, the only clients."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key encrypting the data at rest, the slow log and the secret."
  type        = string
}

variable "engine_version" {
  description = "Redis engine version (7, the major version of the Compose scale profile's image)."
  type        = string
  default     = "7.1"
}

variable "node_type" {
  description = "ElastiCache node type (a broker holds only queued task messages)."
  type        = string
  default     = "cache.t4g.small"
}

variable "log_retention_days" {
  description = "Days of the slow log kept in CloudWatch (a year, as the ECS logs)."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags of every resource."
  type        = map(string)
  default     = {}
}
