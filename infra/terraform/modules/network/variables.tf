variable "name" {
  description = "Name prefix of the network's resources (e.g. camvault-storage, camvault-c1)."
  type        = string
}

variable "region" {
  description = "AWS region of the network (names the S3 gateway endpoint's service)."
  type        = string
}

variable "cidr_block" {
  description = "The VPC's IPv4 range (a /16 to /20); split into public and private subnets per zone."
  type        = string

  validation {
    condition     = can(cidrhost(var.cidr_block, 0)) && tonumber(split("/", var.cidr_block)[1]) <= 20
    error_message = "cidr_block must be an IPv4 CIDR block of size /20 or larger."
  }
}

variable "az_count" {
  description = "Number of availability zones to spread subnets over (2 or 3)."
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 3
    error_message = "az_count must be 2 or 3 (RDS subnet groups and the load balancer need two zones)."
  }
}

variable "one_nat_gateway" {
  description = "One NAT gateway for all zones (cheaper) instead of one per zone (survives a zone outage)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource of the network."
  type        = map(string)
  default     = {}
}
