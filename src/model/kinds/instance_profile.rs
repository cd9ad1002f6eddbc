//! An IAM instance profile's data: its table of attributes and its ARN format.

use crate::model::arn::{iam, ArnFormat};
use crate::model::attributes::Attribute;

pub(in crate::model) const ATTRIBUTES: &[Attribute] = &[
    Attribute::export("arn"),
    Attribute::export("name").replaces(),
    Attribute::setting("path").replaces(),
];

pub(in crate::model) const ARN: ArnFormat = iam("instance-profile");
