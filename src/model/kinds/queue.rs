//! An SQS queue's data: its table of attributes and its ARN format.

use crate::model::arn::{regional, ArnFormat, ArnId};
use crate::model::attributes::{Attribute, SizeLimit};
use crate::policy::DocumentKind;

pub(in crate::model) const ATTRIBUTES: &[Attribute] = &[
    Attribute::export("arn"),
    Attribute::assigned("url"),
    Attribute::export("name").replaces(),
    Attribute::export("visibility_timeout"),
    Attribute::export("kms_key"),
    Attribute::policy(
        "policy",
        DocumentKind::Resource("an SQS queue policy"),
        // "Amazon SQS policy quotas": 8,192 bytes.
        SizeLimit::Each(8_192),
    ),
];

pub(in crate::model) const ARN: ArnFormat = regional("sqs", "", ArnId::Name);
