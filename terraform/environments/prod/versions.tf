terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.70"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
  # State holds the generated database password: keep it in an encrypted, versioned bucket.
  # `terraform init -backend-config=backend.hcl` with bucket, key, region, dynamodb_table.
  backend "s3" {
    encrypt = true
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = {
      Project     = "ecomm"
      Environment = "prod"
      ManagedBy   = "terraform"
    }
  }
}
