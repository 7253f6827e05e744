# --- required -------------------------------------------------------------------------------

variable "region" {
  description = "AWS region of the deployment (all parts; each custodian's provider uses it too)."
  type        = string
}

variable "image" {
  description = "The camvault container image built from this repository's Dockerfile (e.g. <account>.dkr.ecr.<region>.amazonaws.com/camvault@sha256:...); pin it by digest."
  type        = string
}

variable "domain_name" {
  description = "Host name of the storage service (CAMVAULT_PUBLIC_URL is https://<domain_name>); point it at the storage_load_balancer_dns_name output."
  type        = string
}

variable "certificate_arn" {
  description = "ARN of the ACM certificate for domain_name, served by the storage load balancer's HTTPS listener."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN (arn:aws:acm:...)."
  }
}

variable "bucket_name" {
  description = "Name of the S3 bucket of the recordings (globally unique)."
  type        = string

  validation {
    # no dots: the service uses virtual-hosted-style URLs, whose TLS certificate (*.s3...)
    # does not cover a dotted bucket name
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be 3-63 lower-case letters, digits or hyphens (no dots: virtual-hosted-style TLS)."
  }
}

variable "arc_public_key" {
  description = "Public key of the alarm receiving centre that signs operator registrations (ed25519:..., printed by `camvault arc keygen`)."
  type        = string

  validation {
    condition     = startswith(var.arc_public_key, "ed25519:")
    error_message = "arc_public_key must be an Ed25519 public key in camvault's text form (ed25519:...)."
  }
}

variable "custodians" {
  description = "The three custodians' endpoints: for each of c1, c2, c3 its host name, the ARN of its ACM certificate (in the custodian's account) and optionally its VPC's IPv4 range."
  type = object({
    c1 = object({ domain_name = string, certificate_arn = string, vpc_cidr = optional(string, "10.41.0.0/16") })
    c2 = object({ domain_name = string, certificate_arn = string, vpc_cidr = optional(string, "10.42.0.0/16") })
    c3 = object({ domain_name = string, certificate_arn = string, vpc_cidr = optional(string, "10.43.0.0/16") })
  })
}

# --- optional -------------------------------------------------------------------------------

variable "name" {
  description = "Name prefix of every resource (one deployment per name and account)."
  type        = string
  default     = "camvault"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name))
    error_message = "name must be 2-21 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "custodian_role_arns" {
  description = "Per custodian, an IAM role in that custodian's own AWS account to create it in (null: the storage side's account). In production each custodian should be run by an independent party."
  type = object({
    c1 = optional(string)
    c2 = optional(string)
    c3 = optional(string)
  })
  default = {}
}

variable "storage_replicas" {
  description = "Number of stateless storage API tasks behind the load balancer (2 or more)."
  type        = number
  default     = 2

  validation {
    condition     = var.storage_replicas >= 2
    error_message = "storage_replicas must be at least 2 (one replica is a single point of failure)."
  }
}

variable "start_storage_services" {
  description = "false: create everything but run no storage API or sweeper task (the first apply, before `camvault db upgrade` has made the schema)."
  type        = bool
  default     = true
}

variable "storage_workers" {
  description = "uvicorn worker processes per storage API task (camvault serve storage --workers)."
  type        = number
  default     = 2
}

variable "storage_cpu" {
  description = "Fargate CPU units of a storage API task (1024 = one vCPU)."
  type        = number
  default     = 1024
}

variable "storage_memory" {
  description = "Fargate memory of a storage API task in MiB."
  type        = number
  default     = 2048
}

variable "custodian_cpu" {
  description = "Fargate CPU units of a custodian task (1024 = one vCPU)."
  type        = number
  default     = 1024
}

variable "custodian_memory" {
  description = "Fargate memory of a custodian task in MiB."
  type        = number
  default     = 2048
}

variable "noncurrent_version_expiration_days" {
  description = "Days a deleted or overwritten payload is kept as a noncurrent object version before S3 removes it."
  type        = number
  default     = 7

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "vpc_cidr" {
  description = "IPv4 range of the storage side's VPC."
  type        = string
  default     = "10.40.0.0/16"
}

variable "az_count" {
  description = "Availability zones every VPC spans (2 or 3)."
  type        = number
  default     = 2
}

variable "one_nat_gateway" {
  description = "One NAT gateway per VPC instead of one per zone (cheaper; outgoing traffic stops if that zone fails)."
  type        = bool
  default     = false
}

variable "allowed_client_cidrs" {
  description = "IPv4 ranges allowed to reach the load balancers (cameras, customers, operators; 0.0.0.0/0: everyone)."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "requests_per_5_minutes" {
  description = "Requests one client address may make to one endpoint in 5 minutes before AWS WAF blocks it (replaces camvault's own per-address limit behind a load balancer)."
  type        = number
  default     = 15000
}

variable "deletion_protection" {
  description = "Whether the load balancers are protected from deletion (the databases always are, the bucket is never force-destroyed)."
  type        = bool
  default     = true
}

variable "postgres_version" {
  description = "PostgreSQL major version of every database (RDS engine_version)."
  type        = string
  default     = "16"
}

variable "storage_db_instance_class" {
  description = "RDS instance class of the storage database."
  type        = string
  default     = "db.t4g.medium"
}

variable "storage_db_multi_az" {
  description = "Whether the storage database has a standby in another zone."
  type        = bool
  default     = true
}

variable "storage_db_allocated_gb" {
  description = "Initial storage of the storage database in GB (grows automatically up to five times that)."
  type        = number
  default     = 50
}

variable "custodian_db_instance_class" {
  description = "RDS instance class of each custodian's database."
  type        = string
  default     = "db.t4g.small"
}

variable "custodian_db_multi_az" {
  description = "Whether each custodian's database has a standby in another zone."
  type        = bool
  default     = false
}

variable "custodian_db_allocated_gb" {
  description = "Initial storage of each custodian's database in GB."
  type        = number
  default     = 20
}

variable "db_backup_retention_days" {
  description = "Days of automated backups (point-in-time recovery) kept for every database."
  type        = number
  default     = 14

  validation {
    condition     = var.db_backup_retention_days >= 1 && var.db_backup_retention_days <= 35
    error_message = "db_backup_retention_days must be 1 to 35 (0 would turn backups off)."
  }
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the services' logs."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
