//! A customer-managed IAM policy's data: its table of attributes and its ARN format.

use crate::model::arn::{iam, ArnFormat};
use crate::model::attributes::{Attribute, SizeLimit};
use crate::policy::DocumentKind;

pub(in crate::model) const ATTRIBUTES: &[Attribute] = &[
    Attribute::export("arn"),
    Attribute::export("name").replaces(),
    Attribute::setting("path").replaces(),
    Attribute::setting("description").replaces(),
    Attribute::policy("document", DocumentKind::Identity, SizeLimit::Each(6_144)),
];

pub(in crate::model) const ARN: ArnFormat = iam("policy");
