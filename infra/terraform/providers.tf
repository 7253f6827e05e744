# The storage side (bucket, database, API replicas, sweeper) uses the default provider.
provider "aws" {
  region = var.region

  default_tags {
    tags = merge(var.tags, { Application = "camvault" })
  }
}

# One provider configuration per custodian. By default all three are the storage side's
# account; in production each custodian should be run by an independent party in its own
# AWS account (that is what makes t = 2 of 3 mean something: no single administrator holds
# two keys). Give var.custodian_role_arns a role in each custodian's account and its module
# is created there, with its own network, database, key volume, KMS key and load balancer;
# nothing of a custodian is shared with the storage side or with another custodian.
provider "aws" {
  alias  = "c1"
  region = var.region

  dynamic "assume_role" {
    for_each = var.custodian_role_arns.c1 == null ? [] : [var.custodian_role_arns.c1]
    content {
      role_arn = assume_role.value
    }
  }

  default_tags {
    tags = merge(var.tags, { Application = "camvault", Custodian = "c1" })
  }
}

provider "aws" {
  alias  = "c2"
  region = var.region

  dynamic "assume_role" {
    for_each = var.custodian_role_arns.c2 == null ? [] : [var.custodian_role_arns.c2]
    content {
      role_arn = assume_role.value
    }
  }

  default_tags {
    tags = merge(var.tags, { Application = "camvault", Custodian = "c2" })
  }
}

provider "aws" {
  alias  = "c3"
  region = var.region

  dynamic "assume_role" {
    for_each = var.custodian_role_arns.c3 == null ? [] : [var.custodian_role_arns.c3]
    content {
      role_arn = assume_role.value
    }
  }

  default_tags {
    tags = merge(var.tags, { Application = "camvault", Custodian = "c3" })
  }
}
