output "storage_url" {
  description = "URL of the storage service (CAMVAULT_PUBLIC_URL; what cameras, customers and operators use)."
  value       = "https://${var.domain_name}"
}

output "storage_load_balancer_dns_name" {
  description = "DNS name of the storage load balancer: point domain_name at it (CNAME or Route 53 alias)."
  value       = module.storage_endpoint.dns_name
}

output "custodian_urls" {
  description = "The custodians' URLs by id, for the sites' SiteKeys (threshold 2 of these 3)."
  value = {
    c1 = module.custodian_c1.url
    c2 = module.custodian_c2.url
    c3 = module.custodian_c3.url
  }
}

output "custodian_load_balancer_dns_names" {
  description = "DNS name of each custodian's load balancer by id: point that custodian's domain_name at it."
  value = {
    c1 = module.custodian_c1.load_balancer_dns_name
    c2 = module.custodian_c2.load_balancer_dns_name
    c3 = module.custodian_c3.load_balancer_dns_name
  }
}

output "bucket_name" {
  description = "Name of the recordings bucket (CAMVAULT_S3_BUCKET)."
  value       = aws_s3_bucket.recordings.id
}

output "bucket_kms_key_arn" {
  description = "ARN of the KMS key encrypting the bucket at rest (defence in depth; payloads are end-to-end encrypted)."
  value       = aws_kms_key.recordings.arn
}

output "storage_task_role_arn" {
  description = "ARN of the IAM role of the storage API and sweeper tasks (the only identity with access to the bucket)."
  value       = aws_iam_role.storage_task.arn
}

output "storage_database_endpoint" {
  description = "host:port of the storage database (reachable only from the storage API tasks and the sweeper/migration tasks)."
  value       = aws_db_instance.storage.endpoint
}

output "storage_database_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the storage database's master password (generated and rotated by RDS)."
  value       = aws_db_instance.storage.master_user_secret[0].secret_arn
}

output "ecs_cluster_name" {
  description = "Name of the storage side's ECS cluster."
  value       = aws_ecs_cluster.storage.name
}

output "migrate_command" {
  description = "The command that runs `camvault db upgrade` once as an ECS task (before the first start and every upgrade)."
  value = join(" ", [
    "aws ecs run-task --region ${var.region} --cluster ${aws_ecs_cluster.storage.name}",
    "--launch-type FARGATE --task-definition ${aws_ecs_task_definition.migrate.family}",
    "--network-configuration 'awsvpcConfiguration={subnets=[${join(",", module.network.private_subnet_ids)}],securityGroups=[${aws_security_group.storage_worker.id}],assignPublicIp=DISABLED}'",
  ])
}
