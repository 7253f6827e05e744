variable "custodian_id" {
  description = "The custodian's id in the sites' SiteKeys (c1, c2, c3): its service's --id and resource names."
  type        = string

  validation {
    condition     = can(regex("^c[0-9]{1,2}$", var.custodian_id))
    error_message = "custodian_id must look like c1, c2, c3."
  }
}

variable "name" {
  description = "Name prefix of the deployment; this custodian's resources are named <name>-<custodian_id>."
  type        = string
}

variable "region" {
  description = "AWS region of this custodian (its provider's region)."
  type        = string
}

variable "image" {
  description = "The camvault container image (the one Dockerfile of this repository), ideally pinned by digest."
  type        = string
}

variable "domain_name" {
  description = "Host name clients use for this custodian (its certificate's name; CAMVAULT_ESCROW_PUBLIC_AUTHORITY)."
  type        = string
}

variable "certificate_arn" {
  description = "ARN of the ACM certificate for domain_name, in this custodian's account and region."
  type        = string
}

variable "arc_public_key" {
  description = "Public key (ed25519:...) of the alarm receiving centre that signs operator registrations."
  type        = string
}

variable "notify_url" {
  description = "Where this custodian sends access notices: the storage service's https://<host>/v1/notices."
  type        = string

  validation {
    condition     = startswith(var.notify_url, "https://")
    error_message = "notify_url must be an https:// URL."
  }
}

variable "vpc_cidr" {
  description = "IPv4 range of this custodian's own VPC."
  type        = string
}

variable "az_count" {
  description = "Availability zones this custodian's subnets span (2 or 3)."
  type        = number
}

variable "one_nat_gateway" {
  description = "One NAT gateway for all zones of this custodian's VPC instead of one per zone."
  type        = bool
}

variable "allowed_client_cidrs" {
  description = "IPv4 ranges allowed to reach this custodian's endpoint (the ARC's and operators' networks, or 0.0.0.0/0)."
  type        = list(string)
}

variable "requests_per_5_minutes" {
  description = "Requests one client address may make to this custodian in 5 minutes (AWS WAF)."
  type        = number
}

variable "deletion_protection" {
  description = "Whether this custodian's load balancer is protected from deletion (its database always is)."
  type        = bool
}

variable "postgres_version" {
  description = "PostgreSQL major version of this custodian's database (RDS engine_version)."
  type        = string
}

variable "db_instance_class" {
  description = "RDS instance class of this custodian's database."
  type        = string
}

variable "db_multi_az" {
  description = "Whether this custodian's database has a standby in another zone."
  type        = bool
}

variable "db_allocated_gb" {
  description = "Initial storage of this custodian's database in GB (grows up to five times that)."
  type        = number
}

variable "db_backup_retention_days" {
  description = "Days of automated backups (point-in-time recovery) kept for this custodian's database."
  type        = number
}

variable "cpu" {
  description = "Fargate CPU units of the custodian task (1024 = one vCPU)."
  type        = number
}

variable "memory" {
  description = "Fargate memory of the custodian task in MiB."
  type        = number
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps this custodian's logs."
  type        = number
}

variable "tags" {
  description = "Tags added to this custodian's resources."
  type        = map(string)
  default     = {}
}
