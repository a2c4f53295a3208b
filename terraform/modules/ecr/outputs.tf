output "repository_urls" {
  description = "Repository URL of each image, by image name."
  value       = { for key, repo in aws_ecr_repository.this : key => repo.repository_url }
}

output "repository_arns" {
  description = "Repository ARN of each image, by image name."
  value       = { for key, repo in aws_ecr_repository.this : key => repo.arn }
}
