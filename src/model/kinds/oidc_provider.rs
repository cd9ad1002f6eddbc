//! An IAM OIDC provider's data: its table of attributes and its ARN format.

use crate::model::arn::{iam, ArnFormat, ArnId};
use crate::model::attributes::Attribute;

pub(in crate::model) const ATTRIBUTES: &[Attribute] = &[
    Attribute::export("arn"),
    Attribute::setting("url").replaces(),
];

pub(in crate::model) const ARN: ArnFormat = ArnFormat {
    every: "*",
    id: ArnId::IssuerUrl,
    ..iam("oidc-provider/")
};
