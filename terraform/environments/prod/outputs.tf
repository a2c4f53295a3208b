output "urls" {
  description = "URL of each service (after pointing the domain's names at alb_dns_name)."
  value       = module.ecs.urls
}

output "alb_dns_name" {
  description = "DNS name of the ALB."
  value       = module.ecs.alb_dns_name
}

output "ecr_repositories" {
  description = "Where to push each image."
  value       = module.ecr.repository_urls
}

output "database_address" {
  description = "Host of the RDS PostgreSQL server (private)."
  value       = module.rds.address
}

output "buckets" {
  description = "The data-lake and MLflow artifact buckets."
  value = {
    data_lake        = module.s3.data_lake_bucket
    mlflow_artifacts = module.s3.mlflow_artifacts_bucket
  }
}

output "run_task_commands" {
  description = "The one-shot jobs to run once, in this order: db-migrate, airflow-init, bootstrap."
  value = {
    for job, arn in module.ecs.job_task_definitions : job => join(" ", [
      "aws ecs run-task --cluster ${module.ecs.cluster_name} --launch-type FARGATE",
      "--task-definition ${arn}",
      "--network-configuration 'awsvpcConfiguration={subnets=[${join(",", module.network.private_subnet_ids)}],securityGroups=[${module.ecs.task_security_group_id}],assignPublicIp=DISABLED}'",
    ])
  }
}

output "api_keys_secret_arn" {
  description = "Where the API key clients send as X-API-Key is kept."
  value       = module.ecs.api_keys_secret_arn
}
