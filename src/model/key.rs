//! A KMS key's defaults, as KMS applies them and as the spec leaves them out.

pub const DEFAULT_KEY_USAGE: &str = "ENCRYPT_DECRYPT";
pub const DEFAULT_KEY_SPEC: &str = "SYMMETRIC_DEFAULT";
/// AWS's own default, and the longest it allows: the most time to notice a mistake.
pub const DEFAULT_DELETION_WINDOW_DAYS: i64 = 30;
