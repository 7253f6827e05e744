# OpenTofu (MPL-2.0) >= 1.8, or Terraform >= 1.8; only the hashicorp/aws provider (MPL-2.0).
# No AGPL provider is used (the community MinIO provider is AGPL: this configuration targets
# AWS S3 itself).
terraform {
  required_version = ">= 1.8.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.80, < 7.0"
    }
  }
}
