output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "public_subnet_ids" {
  description = "IDs of the public subnets (load balancer), one per zone."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "IDs of the private subnets (tasks, databases, file systems), one per zone."
  value       = aws_subnet.private[*].id
}

output "nat_public_ips" {
  description = "Public addresses the tasks' outgoing connections come from (e.g. to allow custodians' notices)."
  value       = aws_eip.nat[*].public_ip
}
