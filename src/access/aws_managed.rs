//! The documents of AWS managed policies that stacks commonly attach, so that the access
//! review sees what attaching one grants. AWS may add actions to its own policies; these are
//! their documents as AWS publishes them, condensed to the statements that allow (each AWS
//! policy named here has no Deny).
//!
//! A managed policy from outside the stack that is not listed here gives one row that names
//! it, classed `escalation`: what it grants cannot be told, so a gate on `escalation` stops it.

use std::sync::OnceLock;

use crate::policy::PolicyDocument;

/// Name (after `:policy/`) and the statements of its document.
const DOCUMENTS: &[(&str, &str)] = &[
    (
        "AdministratorAccess",
        r#"[{"Effect": "Allow", "Action": "*", "Resource": "*"}]"#,
    ),
    (
        "PowerUserAccess",
        r#"[{"Effect": "Allow", "NotAction": ["iam:*", "organizations:*", "account:*"], "Resource": "*"},
            {"Effect": "Allow", "Action": ["iam:CreateServiceLinkedRole", "iam:DeleteServiceLinkedRole", "iam:ListRoles", "organizations:DescribeOrganization", "account:ListRegions", "account:GetAccountInformation"], "Resource": "*"}]"#,
    ),
    (
        "IAMFullAccess",
        r#"[{"Effect": "Allow", "Action": ["iam:*", "organizations:DescribeAccount", "organizations:DescribeOrganization", "organizations:DescribeOrganizationalUnit", "organizations:DescribePolicy", "organizations:ListChildren", "organizations:ListParents", "organizations:ListPoliciesForTarget", "organizations:ListRoots", "organizations:ListPolicies", "organizations:ListTargetsForPolicy"], "Resource": "*"}]"#,
    ),
    (
        "AmazonS3FullAccess",
        r#"[{"Effect": "Allow", "Action": ["s3:*", "s3-object-lambda:*"], "Resource": "*"}]"#,
    ),
    (
        "AmazonS3ReadOnlyAccess",
        r#"[{"Effect": "Allow", "Action": ["s3:Get*", "s3:List*", "s3:Describe*", "s3-object-lambda:Get*", "s3-object-lambda:List*"], "Resource": "*"}]"#,
    ),
    (
        "AmazonSQSFullAccess",
        r#"[{"Effect": "Allow", "Action": ["sqs:*"], "Resource": "*"}]"#,
    ),
    (
        "AmazonSQSReadOnlyAccess",
        r#"[{"Effect": "Allow", "Action": ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ListDeadLetterSourceQueues", "sqs:ListQueues", "sqs:ListMessageMoveTasks", "sqs:ListQueueTags"], "Resource": "*"}]"#,
    ),
    (
        "AWSKeyManagementServicePowerUser",
        r#"[{"Effect": "Allow", "Action": ["kms:CreateAlias", "kms:CreateKey", "kms:DeleteAlias", "kms:Describe*", "kms:GenerateRandom", "kms:Get*", "kms:List*", "kms:TagResource", "kms:UntagResource", "iam:ListGroups", "iam:ListRoles", "iam:ListUsers"], "Resource": "*"}]"#,
    ),
    (
        "AWSLambda_FullAccess",
        r#"[{"Effect": "Allow", "Action": ["cloudformation:DescribeStacks", "cloudformation:ListStackResources", "cloudwatch:ListMetrics", "cloudwatch:GetMetricData", "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs", "kms:ListAliases", "iam:GetPolicy", "iam:GetPolicyVersion", "iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies", "iam:ListRoles", "lambda:*", "logs:DescribeLogGroups", "states:DescribeStateMachine", "states:ListStateMachines", "tag:GetResources", "xray:GetTraceSummaries", "xray:BatchGetTraces"], "Resource": "*"},
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*", "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}},
            {"Effect": "Allow", "Action": ["logs:DescribeLogStreams", "logs:GetLogEvents", "logs:FilterLogEvents", "logs:StartLiveTail", "logs:StopLiveTail"], "Resource": "arn:aws:logs:*:*:log-group:/aws/lambda/*"}]"#,
    ),
    (
        "service-role/AWSLambdaBasicExecutionRole",
        r#"[{"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}]"#,
    ),
    (
        "service-role/AWSLambdaSQSQueueExecutionRole",
        r#"[{"Effect": "Allow", "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}]"#,
    ),
    (
        "service-role/AWSLambdaVPCAccessExecutionRole",
        r#"[{"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"], "Resource": "*"}]"#,
    ),
];

/// The document of the AWS managed policy `arn` names (any partition), if it is one of the
/// policies above.
pub(super) fn document(arn: &str) -> Option<&'static PolicyDocument> {
    static PARSED: OnceLock<Vec<(&'static str, PolicyDocument)>> = OnceLock::new();
    let (prefix, name) = arn.split_once(":policy/")?;
    if !(prefix.starts_with("arn:") && prefix.ends_with(":iam::aws")) {
        return None;
    }
    let parsed = PARSED.get_or_init(|| {
        DOCUMENTS
            .iter()
            .map(|(name, statements)| {
                let json = format!(r#"{{"Version": "2012-10-17", "Statement": {statements}}}"#);
                let doc = PolicyDocument::parse(&json)
                    .unwrap_or_else(|e| panic!("the document of {name}: {e}"));
                (*name, doc)
            })
            .collect()
    });
    parsed.iter().find(|(n, _)| *n == name).map(|(_, doc)| doc)
}

#[cfg(test)]
mod tests {
    use super::document;

    #[test]
    fn aws_managed_policies_are_found_by_their_arn_in_any_partition() {
        for (name, _) in super::DOCUMENTS {
            assert!(
                document(&format!("arn:aws:iam::aws:policy/{name}")).is_some(),
                "{name}"
            );
        }
        assert!(document("arn:aws-us-gov:iam::aws:policy/AdministratorAccess").is_some());
        assert!(document("arn:aws:iam::123456789012:policy/AdministratorAccess").is_none());
        assert!(document("arn:aws:iam::aws:policy/SomethingElse").is_none());
    }
}
