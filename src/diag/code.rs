//! Every diagnostic's code: a closed set, each written (in messages and wherever a program
//! reads it) as its stable `area::name` string. Warnings' codes are also a
//! [`WarningCode`](super::WarningCode), the subset that travels inside plans.

use std::fmt;

use serde::Serialize;

use super::WarningCode;

/// Declares each code as a variant of [`Code`] with its string, and lists them all.
macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident = $code:literal,)*) => {
        /// A diagnostic's stable code, e.g. `spec::unknown-field`: documented and safe to
        /// match on.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $($(#[$doc])* $variant),*
        }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The stable code as printed.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $code),*
                }
            }
        }
    };
}

codes! {
    /// A function's role may lack queue access it needs.
    CheckFunctionQueueAccess = "check::function-queue-access",
    /// A function's role does not trust Lambda.
    CheckFunctionRoleTrust = "check::function-role-trust",
    /// The key policy may lock the caller out (KMS's lockout safety check).
    CheckKeyLockout = "check::key-lockout",
    /// The key of a queue S3 notifies does not let S3 use it.
    CheckNotificationKeyPolicy = "check::notification-key-policy",
    /// A queue S3 notifies does not let the bucket send to it.
    CheckNotificationQueuePolicy = "check::notification-queue-policy",
    /// A function of the stack S3 notifies, which needs a Lambda permission for S3.
    CheckNotificationFunctionPermission = "check::notification-function-permission",
    CheckBucketPolicy = "check::bucket-policy",
    /// A role that creates functions may not pass them their role.
    CheckPassRole = "check::pass-role",
    /// A queue's visibility timeout is shorter than its function's timeout.
    CheckVisibilityTimeout = "check::visibility-timeout",
    /// A resource the plan would change that the stack does not own.
    PlanConflict = "plan::conflict",
    /// Two resources of the stack carry the same address tag.
    PlanDuplicate = "plan::duplicate",
    /// Two blocks of the spec name the same resource.
    PlanDuplicateName = "plan::duplicate-name",
    /// A shared key's policy would be left without a statement, which KMS refuses.
    PlanEmptyKeyPolicy = "plan::empty-key-policy",
    /// An `existing = true` resource does not exist.
    PlanMissingExisting = "plan::missing-existing",
    /// The live snapshot does not say which account it is.
    PlanNoAccount = "plan::no-account",
    /// The plan would delete or replace a resource with `prevent_destroy`.
    PlanPreventDestroy = "plan::prevent-destroy",
    /// `release = true` on a resource the stack does not own.
    PlanReleaseNotOwned = "plan::release-not-owned",
    /// A part of a shared resource another stack's record holds.
    PlanSharedConflict = "plan::shared-conflict",
    /// The plan would delete or replace a resource other stacks share (`existing = true`).
    PlanSharedByOthers = "plan::shared-by-others",
    /// A block claims a statement or inline policy its owner wrote differently.
    PlanSharedTakeover = "plan::shared-takeover",
    /// A shared bucket's notification of the stack's overlaps one of its owner's.
    PlanNotificationOverlap = "plan::notification-overlap",
    /// A key without an alias is deleted while another is created in the same plan.
    PlanKeyRecreated = "plan::key-recreated",
    /// A name that depends on a value known only after apply.
    PlanUnknownName = "plan::unknown-name",
    /// A trigger's queue ARN is known only after apply.
    PlanUnknownTrigger = "plan::unknown-trigger",
    /// A string of a bucket's CORS rule or notification known only after apply.
    PlanUnknownValue = "plan::unknown-value",
    /// A policy document the policy grammar refuses.
    PolicyInvalid = "policy::invalid",
    /// A policy that is not JSON.
    PolicyJson = "policy::json",
    /// A policy lint of error severity (the lint's own code is in the message).
    PolicyLint = "policy::lint",
    /// A value where a policy belongs that is not one.
    PolicyNotAPolicy = "policy::not-a-policy",
    /// An account id that is not twelve digits.
    SpecAccountId = "spec::account-id",
    /// `bypass_lockout_check` without a reason.
    SpecBypassWithoutReason = "spec::bypass-without-reason",
    /// Several environments and none chosen.
    SpecChooseEnvironment = "spec::choose-environment",
    /// A reference to a resource or attribute the spec does not declare.
    SpecDanglingReference = "spec::dangling-reference",
    /// A file that is not UTF-8.
    SpecEncoding = "spec::encoding",
    /// Two environments in one account with one stack name.
    SpecEnvironmentsShareStack = "spec::environments-share-stack",
    /// `--var`, a var file or `PLINTH_VAR_*` replaces a value the chosen environment sets.
    SpecEnvVarOverridden = "spec::env-var-overridden",
    /// A variable a secret is made of, used outside a secret too.
    SpecSecretShown = "spec::secret-shown",
    /// A resource tagged with the stack's name but no address, which plinth leaves alone.
    PlanStackTagOnly = "plan::stack-tag-only",
    SpecQuota = "spec::quota",
    /// Environments of one account that name the same AWS resource.
    SpecEnvironmentsShareName = "spec::environments-share-name",
    /// A field that names an existing resource on a block that creates one.
    SpecExistingOnly = "spec::existing-only",
    /// A value serde refuses for another reason.
    SpecInvalid = "spec::invalid",
    /// A name outside AWS's rules.
    SpecInvalidName = "spec::invalid-name",
    /// Two blocks of the spec name the same resource, as far as validate can tell.
    SpecDuplicateName = "spec::duplicate-name",
    /// A tag key outside AWS's rules.
    SpecInvalidTag = "spec::invalid-tag",
    /// A value outside AWS's rules.
    SpecInvalidValue = "spec::invalid-value",
    /// A `when` that is not a switch.
    SpecInvalidWhen = "spec::invalid-when",
    /// A required field left out.
    SpecMissingField = "spec::missing-field",
    /// An environment chosen in a spec that declares none.
    SpecNoEnvironments = "spec::no-environments",
    /// No `[stack]` table.
    SpecNoStack = "spec::no-stack",
    /// A field that does not apply to an existing resource.
    SpecOwnedOnly = "spec::owned-only",
    /// `<something>` left from a setup page.
    SpecPlaceholder = "spec::placeholder",
    /// A policy document over AWS's size limit.
    SpecPolicySize = "spec::policy-size",
    /// A character IAM or KMS refuses in a policy document (outside Latin-1).
    SpecPolicyChars = "spec::policy-chars",
    /// A file that cannot be read.
    SpecRead = "spec::read",
    /// A lockout reason without `bypass_lockout_check`.
    SpecReasonWithoutBypass = "spec::reason-without-bypass",
    /// A reference that is malformed or not allowed where it is written.
    SpecReference = "spec::reference",
    /// References that form a cycle.
    SpecReferenceCycle = "spec::reference-cycle",
    /// An entry of a shared collection without an id plinth can record.
    SpecSharedEntryId = "spec::shared-entry-id",
    /// A statement of a shared document without a Sid plinth can record.
    SpecSharedSid = "spec::shared-sid",
    /// A `[stack]` field referring to anything but a variable with a value.
    SpecStackReference = "spec::stack-reference",
    /// A reference to a resource switched off.
    SpecSwitchedOffReference = "spec::switched-off-reference",
    /// Invalid TOML.
    SpecSyntax = "spec::syntax",
    /// A malformed `${...}` template.
    SpecTemplate = "spec::template",
    /// A file or code archive over a size limit.
    SpecTooLarge = "spec::too-large",
    /// A value of the wrong type.
    SpecType = "spec::type",
    /// An environment the spec does not declare.
    SpecUnknownEnvironment = "spec::unknown-environment",
    /// A field the table does not take.
    SpecUnknownField = "spec::unknown-field",
    /// A silenced lint code that no rule has.
    SpecUnknownLint = "spec::unknown-lint",
    /// A top-level table plinth does not know.
    SpecUnknownTable = "spec::unknown-table",
    /// A variable set that the spec does not declare.
    SpecUnknownVar = "spec::unknown-var",
    /// A variable file that cannot be read or parsed.
    SpecVarFile = "spec::var-file",
    /// A variable whose value contains a reference.
    SpecVarReference = "spec::var-reference",
}

impl Code {
    pub fn parse(code: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.as_str() == code)
    }
}

/// A warning's code is the same code when the finding is an error (a permission a role
/// certainly lacks, a placeholder where an ARN belongs).
impl From<WarningCode> for Code {
    fn from(code: WarningCode) -> Code {
        match code {
            WarningCode::PolicyLint => Code::PolicyLint,
            WarningCode::PolicySize => Code::SpecPolicySize,
            WarningCode::Placeholder => Code::SpecPlaceholder,
            WarningCode::KeyLockout => Code::CheckKeyLockout,
            WarningCode::NotificationQueuePolicy => Code::CheckNotificationQueuePolicy,
            WarningCode::NotificationFunctionPermission => {
                Code::CheckNotificationFunctionPermission
            }
            WarningCode::FunctionQueueAccess => Code::CheckFunctionQueueAccess,
            WarningCode::PassRole => Code::CheckPassRole,
            WarningCode::SharedTakeover => Code::PlanSharedTakeover,
            WarningCode::KeyRecreated => Code::PlanKeyRecreated,
            WarningCode::EnvVarOverridden => Code::SpecEnvVarOverridden,
            WarningCode::SecretShown => Code::SpecSecretShown,
            WarningCode::StackTagOnly => Code::PlanStackTagOnly,
            WarningCode::Quota => Code::SpecQuota,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A code equals its printed string, as a program reading plinth's output compares it.
impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Code::parse(&code)
            .ok_or_else(|| serde::de::Error::custom(format!("`{code}` is not a diagnostic code")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_their_printed_strings_once_each() {
        for (i, code) in Code::ALL.iter().enumerate() {
            assert_eq!(Code::parse(code.as_str()), Some(*code));
            let json = serde_json::to_string(code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<Code>(&json).unwrap(), *code);
            assert!(!Code::ALL[..i].iter().any(|c| c.as_str() == code.as_str()));
        }
        for warning in WarningCode::ALL {
            assert_eq!(Code::from(warning).as_str(), warning.as_str());
        }
        assert!(serde_json::from_str::<Code>("\"spec::nonsense\"").is_err());
        assert!(Code::SpecType == "spec::type" && Code::SpecType != "spec::typo");
    }
}
