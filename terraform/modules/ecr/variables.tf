variable "name" {
  description = "Name prefix of every repository."
  type        = string
}

variable "repositories" {
  description = "Image names (one repository each): the Dockerfiles of the repository."
  type        = list(string)
  default     = ["ecomm", "airflow", "mlflow", "fastapi", "streamlit"]
}

variable "kms_key_arn" {
  description = "KMS key encrypting the images."
  type        = string
}

variable "tags" {
  description = "Tags of every resource."
  type        = map(string)
  default     = {}
}
