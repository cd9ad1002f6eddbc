//! A KMS key's data: its table of attributes, its ARN format, and its defaults, as KMS applies
//! them and as the spec leaves them out.

use crate::model::arn::{regional, ArnFormat, ArnId};
use crate::model::attributes::{Attribute, SizeLimit};
use crate::policy::KEY_POLICY;

/// A key has only the id AWS assigns, so nothing about it is known before it exists.
pub(in crate::model) const ATTRIBUTES: &[Attribute] = &[
    Attribute::assigned("arn"),
    Attribute::assigned("key_id"),
    Attribute::setting("key_usage").replaces(),
    Attribute::setting("key_spec").replaces(),
    // An instruction for the call that sends the policy, not a setting of the key.
    Attribute::write_only("bypass_lockout_check"),
    Attribute::policy("policy", KEY_POLICY, SizeLimit::Each(32_768)),
];

pub(in crate::model) const ARN: ArnFormat = regional("kms", "key/", ArnId::Assigned);

pub const DEFAULT_KEY_USAGE: &str = "ENCRYPT_DECRYPT";
pub const DEFAULT_KEY_SPEC: &str = "SYMMETRIC_DEFAULT";
/// AWS's own default, and the longest it allows: the most time to notice a mistake.
pub const DEFAULT_DELETION_WINDOW_DAYS: i64 = 30;
