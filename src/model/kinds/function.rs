//! A Lambda function's data: its table of attributes and its ARN format.

use crate::model::arn::{regional, ArnFormat, ArnId};
use crate::model::attributes::Attribute;

pub(in crate::model) const ATTRIBUTES: &[Attribute] = &[
    Attribute::export("arn"),
    Attribute::export("name").replaces(),
    Attribute::export("timeout"),
    Attribute::export("memory"),
    Attribute::setting("package_type").replaces(),
    Attribute::write_only("code_path"),
];

pub(in crate::model) const ARN: ArnFormat = regional("lambda", "function:", ArnId::Name);
