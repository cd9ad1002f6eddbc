//! An IAM role's data: its table of attributes and its ARN format.

use crate::model::arn::{iam, ArnFormat};
use crate::model::attributes::{Attribute, SizeLimit};
use crate::policy::DocumentKind;

pub(in crate::model) const ATTRIBUTES: &[Attribute] = &[
    Attribute::export("arn"),
    Attribute::export("name").replaces(),
    Attribute::export("path").replaces(),
    Attribute::assigned("unique_id"),
    // IAM's default quota is 2,048; an account may raise it to 4,096.
    Attribute::policy(
        "trust",
        DocumentKind::Trust,
        SizeLimit::Raisable {
            default: 2_048,
            max: 4_096,
        },
    ),
    Attribute::policy(
        "policies",
        DocumentKind::Identity,
        SizeLimit::Together(10_240),
    ),
];

pub(in crate::model) const ARN: ArnFormat = iam("role");
