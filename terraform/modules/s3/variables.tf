variable "name" {
  description = "Name prefix of every bucket (the account id is appended: bucket names are global)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key encrypting the data-lake and MLflow buckets."
  type        = string
}

variable "tags" {
  description = "Tags of every resource."
  type        = map(string)
  default     = {}
}
