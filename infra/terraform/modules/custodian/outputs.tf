output "url" {
  description = "The custodian's URL for the sites' SiteKeys and the operators (https://<domain_name>)."
  value       = "https://${var.domain_name}"
}

output "load_balancer_dns_name" {
  description = "DNS name of this custodian's load balancer: point domain_name at it."
  value       = module.endpoint.dns_name
}

output "database_endpoint" {
  description = "host:port of this custodian's database (reachable only from its task)."
  value       = aws_db_instance.custodian.endpoint
}

output "database_secret_arn" {
  description = "ARN of the Secrets Manager secret holding this custodian's database master password (managed by RDS)."
  value       = aws_db_instance.custodian.master_user_secret[0].secret_arn
}

output "key_file_system_id" {
  description = "ID of the EFS file system holding this custodian's keys (backed up daily by AWS Backup)."
  value       = aws_efs_file_system.keys.id
}

output "task_role_arn" {
  description = "ARN of the custodian task's IAM role (its key volume only; nothing on S3)."
  value       = aws_iam_role.task.arn
}

output "nat_public_ips" {
  description = "Addresses this custodian's access notices come from."
  value       = module.network.nat_public_ips
}
