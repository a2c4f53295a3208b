# Production on AWS: the Docker Compose stack mirrored to ECS Fargate, RDS PostgreSQL, ElastiCache
# Redis (Airflow's Celery broker) and S3.
# After `terraform apply`: push the images to the ECR repositories (tag = var.image_tag), then run
# the one-shot jobs in order (outputs.run_task_commands), then the services settle healthy.
locals {
  name = "ecomm-prod"
}

module "kms" {
  source = "../../modules/kms"
  name   = local.name
}

module "network" {
  source      = "../../modules/network"
  name        = local.name
  cidr_block  = var.vpc_cidr_block
  kms_key_arn = module.kms.key_arn
}

module "s3" {
  source      = "../../modules/s3"
  name        = local.name
  kms_key_arn = module.kms.key_arn
}

module "ecr" {
  source      = "../../modules/ecr"
  name        = "ecomm"
  kms_key_arn = module.kms.key_arn
}

module "rds" {
  source                   = "../../modules/rds"
  name                     = local.name
  vpc_id                   = module.network.vpc_id
  subnet_ids               = module.network.private_subnet_ids
  client_security_group_id = module.ecs.task_security_group_id
  kms_key_arn              = module.kms.key_arn
  instance_class           = var.db_instance_class
}

module "redis" {
  source                   = "../../modules/redis"
  name                     = local.name
  vpc_id                   = module.network.vpc_id
  subnet_ids               = module.network.private_subnet_ids
  client_security_group_id = module.ecs.task_security_group_id
  kms_key_arn              = module.kms.key_arn
}

module "ecs" {
  source                   = "../../modules/ecs"
  name                     = local.name
  vpc_id                   = module.network.vpc_id
  vpc_cidr_block           = module.network.vpc_cidr_block
  public_subnet_ids        = module.network.public_subnet_ids
  private_subnet_ids       = module.network.private_subnet_ids
  allowed_cidrs            = var.allowed_cidrs
  domain_name              = var.domain_name
  certificate_arn          = var.certificate_arn
  repository_urls          = module.ecr.repository_urls
  image_tag                = var.image_tag
  database_secret_arns     = module.rds.secret_arns
  mlflow_bucket_name       = module.s3.mlflow_artifacts_bucket
  mlflow_bucket_arn        = module.s3.bucket_arns["mlflow-artifacts"]
  data_lake_bucket_arn     = module.s3.bucket_arns["data-lake"]
  access_logs_bucket       = module.s3.logs_bucket
  kms_key_arn              = module.kms.key_arn
  api_desired_count        = var.api_desired_count
  celery_broker_secret_arn = module.redis.broker_url_secret_arn
  airflow_worker_count     = var.airflow_worker_count
}
