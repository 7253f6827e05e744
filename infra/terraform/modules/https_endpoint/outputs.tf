output "dns_name" {
  description = "DNS name of the load balancer (point the endpoint's host name at it: CNAME or alias)."
  value       = aws_lb.this.dns_name
}

output "zone_id" {
  description = "Route 53 hosted zone ID of the load balancer (for an alias record)."
  value       = aws_lb.this.zone_id
}

output "target_group_arn" {
  description = "ARN of the target group the ECS service registers its tasks in."
  value       = aws_lb_target_group.this.arn
}

output "https_listener_arn" {
  description = "ARN of the HTTPS listener (an ECS service depends on it)."
  value       = aws_lb_listener.https.arn
}

output "security_group_id" {
  description = "Security group of the load balancer (the tasks accept connections only from it)."
  value       = aws_security_group.alb.id
}
