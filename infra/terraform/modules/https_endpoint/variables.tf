variable "name" {
  description = "Name of the load balancer, its target group, security group and web ACL (at most 32 characters)."
  type        = string

  validation {
    condition     = length(var.name) <= 32
    error_message = "name must be at most 32 characters (a load balancer name's limit)."
  }
}

variable "vpc_id" {
  description = "ID of the VPC of the load balancer and its targets."
  type        = string
}

variable "public_subnet_ids" {
  description = "Public subnets (two zones or more) the load balancer is placed in."
  type        = list(string)
}

variable "allowed_client_cidrs" {
  description = "IPv4 ranges allowed to connect to the endpoint (0.0.0.0/0: everyone)."
  type        = list(string)
}

variable "certificate_arn" {
  description = "ARN of the ACM certificate served by the HTTPS listener (the endpoint's host name)."
  type        = string
}

variable "target_port" {
  description = "Port the service's tasks listen on (plain HTTP inside the VPC)."
  type        = number
}

variable "target_security_group_id" {
  description = "Security group of the service's tasks (the load balancer may reach only it)."
  type        = string
}

variable "requests_per_5_minutes" {
  description = "Requests one client address may make in 5 minutes before AWS WAF blocks it."
  type        = number
}

variable "deletion_protection" {
  description = "Whether the load balancer is protected from deletion."
  type        = bool
}
