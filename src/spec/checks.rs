//! Cross-resource checks: what one resource needs of another, which no single kind can see.
//! A queue that triggers a function must hide a received message for as long as the function
//! may run; the function's role must trust Lambda and read the queue; a bucket that notifies a
//! queue needs the queue's policy, and the policy of the key that encrypts the queue, to let S3
//! in; a role that creates a function must be allowed to pass the function's role.
//!
//! The checks run twice: at validate, on what is known before AWS is read (the spec and its
//! variables), and at plan, on resolved values. A check needing a value that is not known yet
//! (an ARN holds the account id) is left for the plan, never guessed. Pure: the values come
//! through a lookup, and nothing here performs I/O.
//!
//! Checks the kinds or the loader already make are not repeated here: a function's timeout and
//! memory ranges (`kinds::function`), references to undeclared resources
//! (`spec::dangling-reference`), a web-identity trust without an audience (lint P005).

use crate::hash::FastMap;
use std::cell::{OnceCell, RefCell};
use std::sync::Arc;

use crate::diag::{Code, Diagnostic, Diagnostics, Location, WarningCode};
use crate::model::{Address, ArnScope, Kind};
use crate::policy::eval::{is_allowed, is_allowed_in, may_allow_action, Decision};
use crate::policy::{PolicyDocument, Principal};
use crate::spec::kinds::bucket::NotificationTarget;
use crate::spec::kinds::function::FunctionSpec;
use crate::spec::kinds::key::KeySpec;
use crate::spec::kinds::queue::QueueSpec;
use crate::spec::kinds::role::RoleSpec;
use crate::spec::template::{self, AwsFact, Piece, Reference};
use crate::spec::{PolicyTemplate, Resource, ResourceBody, Spec, Text};

/// What SQS hides a received message for when a queue leaves `visibility_timeout` unset.
pub const SQS_DEFAULT_VISIBILITY_TIMEOUT: i64 = 30;
/// How long Lambda lets a function run when it leaves `timeout` unset.
pub const LAMBDA_DEFAULT_TIMEOUT: i64 = 3;

/// What a function's role needs on each queue that triggers it (Lambda polls for it).
const TRIGGER_QUEUE_ACTIONS: &[&str] = &[
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
];
/// What S3 needs on the key of an encrypted queue to deliver events to it.
const NOTIFICATION_KEY_ACTIONS: &[&str] = &["kms:GenerateDataKey", "kms:Decrypt"];

/// Runs every check on `spec`; `lookup` answers the references whose values are known.
pub fn check(spec: &Spec, lookup: impl Fn(&Reference) -> Option<String>) -> Diagnostics {
    check_resolved(spec, lookup, Resolved::default())
}

/// Policies already filled in with the same lookup, by the address of their template in the
/// spec (the planner resolves every policy before the checks run).
pub type Resolved = FastMap<usize, Option<Arc<PolicyDocument>>>;

/// [`check`], given policies already filled in with `lookup`, so they are not parsed again.
pub fn check_resolved(
    spec: &Spec,
    lookup: impl Fn(&Reference) -> Option<String>,
    resolved: Resolved,
) -> Diagnostics {
    let checks = Checks::new(spec, &lookup, resolved);
    let found = spec.resources.values().flat_map(|r| checks.of(r).0);
    Diagnostics(found.collect())
}

/// The checks across resources, asked one resource at a time: what they learn of the spec
/// (its resources by value, the policies filled in) is kept from one resource to the next. A
/// large plan has one on each of its threads, each taking runs of resources as it is free.
pub struct Checks<'a>(Known<'a>);

impl<'a> Checks<'a> {
    /// `lookup` answers the references whose values are known; `resolved` holds the policies
    /// already filled in with it.
    pub fn new(
        spec: &'a Spec,
        lookup: &'a dyn Fn(&Reference) -> Option<String>,
        resolved: Resolved,
    ) -> Self {
        Checks(Known {
            spec,
            lookup,
            by_value: OnceCell::new(),
            policies: RefCell::new(resolved),
            written: RefCell::default(),
        })
    }

    /// What the checks find on `resource`.
    pub fn of(&self, resource: &'a Resource) -> Diagnostics {
        let known = &self.0;
        let mut diags = Diagnostics::default();
        match &resource.body {
            ResourceBody::Function(function) => {
                known.check_function(resource, function, &mut diags);
            }
            ResourceBody::Bucket(bucket) => {
                if let Some(key) = bucket.encryption.as_ref().and_then(|e| e.kms_key.as_ref()) {
                    known.check_encryption_key(key, "S3", &mut diags);
                }
                if let Some(policy) = &bucket.policy {
                    known.check_bucket_policy(resource, &bucket.name, policy, &mut diags);
                    known.check_public_policy_blocked(resource, bucket, policy, &mut diags);
                }
                for notification in bucket.notifications.iter().flatten() {
                    if let NotificationTarget::Function(function) = &notification.target {
                        known.check_notified_function(
                            resource,
                            function,
                            &notification.location,
                            &mut diags,
                        );
                    }
                    if let NotificationTarget::Queue(queue) = &notification.target {
                        known.check_notification(
                            resource,
                            queue,
                            &notification.location,
                            &mut diags,
                        );
                    }
                }
            }
            ResourceBody::Queue(queue) => {
                if let Some(key) = &queue.kms_key {
                    known.check_encryption_key(key, "SQS", &mut diags);
                }
            }
            ResourceBody::Role(role) => known.check_pass_role(resource, role, &mut diags),
            ResourceBody::Key(key) => known.check_key_lockout(resource, key, &mut diags),
            _ => {}
        }
        diags
    }
}

/// Stand-ins for the account and the caller before AWS is read, for the lockout check at
/// validate: no real principal is either.
const UNKNOWN_ACCOUNT: &str = "000000000000";
const UNKNOWN_CALLER: &str = "arn:aws:iam::000000000000:user/the-identity-running-plinth";

/// The spec and the values known so far.
struct Known<'a> {
    spec: &'a Spec,
    lookup: &'a dyn Fn(&Reference) -> Option<String>,
    /// The spec's resources by kind and the known values that name them (an ARN, a key's id),
    /// built on first use so that finding a resource by value is not a walk over the spec.
    by_value: OnceCell<FastMap<(Kind, String), &'a Resource>>,
    /// Policies filled in so far, by the address of their template in the spec: a role's
    /// policies are asked for by every check of every function it serves.
    policies: RefCell<Resolved>,
    /// Policies as written, their references left as text, by the same key: asked for by
    /// every check of a role whose policies are not yet known.
    written: RefCell<Resolved>,
}

/// A role's identity policies: the inline ones in force and the managed ones the spec
/// declares. `partial` when it also attaches managed policies from outside the spec, whose
/// contents plinth cannot see: a missing permission may come from one of them.
struct IdentityPolicies<'a> {
    documents: Vec<(Arc<PolicyDocument>, &'a Location)>,
    partial: bool,
}

impl IdentityPolicies<'_> {
    fn allow(&self, action: &str, resource: &str) -> bool {
        let documents: Vec<&PolicyDocument> = self.documents.iter().map(|(d, _)| &**d).collect();
        allows(is_allowed(&documents, None, action, resource))
    }

    /// False when no statement could allow `action` on any resource, so no resource need be asked about.
    fn may_allow(&self, action: &str) -> bool {
        let documents: Vec<&PolicyDocument> = self.documents.iter().map(|(d, _)| &**d).collect();
        may_allow_action(&documents, action)
    }

    /// Where the first policy that alone allows the request is written.
    fn granted_at(&self, action: &str, resource: &str) -> Option<&Location> {
        self.documents
            .iter()
            .find(|(d, _)| allows(is_allowed(&[d], None, action, resource)))
            .map(|(_, at)| *at)
    }
}

/// A request that conditions may still allow is taken as allowed: the checks report what is
/// surely missing, not what depends on the request's context.
fn allows(decision: Decision) -> bool {
    matches!(decision, Decision::Allowed | Decision::AllowedIfConditions)
}

impl<'a> Known<'a> {
    /// KMS refuses a key policy that would not let the identity sending it change the policy
    /// again (its lockout safety check), at CreateKey and PutKeyPolicy: the caller must be
    /// allowed `kms:PutKeyPolicy`, by name or through the account's root principal (which
    /// delegates to IAM policies). At plan the caller is known (GetCallerIdentity): an error. At
    /// validate only a policy that lets neither the account nor the caller (written
    /// `${aws.caller_arn}`) change it can be told apart: a warning.
    fn check_key_lockout(&self, resource: &Resource, key: &KeySpec, diags: &mut Diagnostics) {
        // An existing key's policy is the owner's statements with plinth's merged in: the
        // statements that let the caller in are the owner's, which plinth never changes.
        if key.bypass_lockout_reason.is_some() || key.existing {
            return;
        }
        let Some(policy) = &key.policy else {
            return;
        };
        let caller = (self.lookup)(&Reference::Aws(AwsFact::CallerArn));
        let at_plan = caller.is_some();
        let stand_in = |fact: AwsFact| match fact {
            AwsFact::AccountId => UNKNOWN_ACCOUNT.to_string(),
            AwsFact::Partition => "aws".to_string(),
            AwsFact::Region => "us-east-1".to_string(),
            AwsFact::CallerArn => UNKNOWN_CALLER.to_string(),
        };
        // Before the plan, unknown values get stand-ins; a reference to another resource
        // cannot name the caller, so a stand-in that matches nothing will do.
        let lookup = |r: &Reference| {
            (self.lookup)(r).or_else(|| match r {
                Reference::Aws(fact) => Some(stand_in(*fact)),
                Reference::Var(name) => {
                    let var = self.spec.vars.get(name)?;
                    Some(AwsFact::of_var(&var.value).map_or_else(|| var.value.clone(), stand_in))
                }
                Reference::Resource { .. } => {
                    Some("arn:aws:iam::000000000000:role/not-known-before-the-plan".to_string())
                }
            })
        };
        let Some(document) = policy.with(lookup) else {
            return;
        };
        let caller = caller.unwrap_or_else(|| UNKNOWN_CALLER.to_string());
        // Before AWS is read, the account is the one the spec declares, if any.
        let declared = self
            .spec
            .stack
            .account
            .as_ref()
            .map(|a| a.account_id.clone());
        let account_known = self.account_id().is_some() || declared.is_some();
        let account = self
            .account_id()
            .or(declared)
            .unwrap_or_else(|| UNKNOWN_ACCOUNT.to_string());
        let partition =
            (self.lookup)(&Reference::Aws(AwsFact::Partition)).unwrap_or_else(|| "aws".to_string());
        let root = format!("arn:{partition}:iam::{account}:root");
        let lets = |principal: &str| lets_change_key_policy(&document, principal);
        if lets(&caller) || lets(&root) {
            return;
        }
        // With the account not known yet, a policy that lets some account's root in may be
        // letting this one's: only the plan can tell.
        if !account_known && names_an_account_root_that_may_change_it(&document, &lets) {
            return;
        }
        let message = if at_plan {
            format!(
                "{}'s policy does not let {caller}, the identity running plinth, change it again: KMS refuses such a policy (its lockout safety check)",
                resource.address
            )
        } else {
            format!(
                "{}'s policy lets neither the account nor the identity running plinth change it again: KMS refuses it unless plinth runs as a principal it allows kms:PutKeyPolicy (checked at plan)",
                resource.address
            )
        };
        let diagnostic = if at_plan {
            Diagnostic::error(Code::CheckKeyLockout, message)
        } else {
            Diagnostic::warning(WarningCode::KeyLockout, message)
        };
        diags.push(
            diagnostic
                .at_location(Some(policy.location.clone()))
                .label("the key policy")
                .hint(format!(
                    "allow kms:PutKeyPolicy to the identity running plinth (`${{aws.caller_arn}}`) or to the account (`arn:${{aws.partition}}:iam::${{aws.account_id}}:root`); or, if it is meant, set `bypass_lockout_check = true` and `bypass_lockout_reason` on [{}]",
                    resource.address
                )),
        );
    }

    fn text(&self, text: &Text) -> Option<String> {
        if text.is_broken() {
            return None;
        }
        template::render(&text.pieces, self.lookup)
    }

    /// The document with every reference filled in, if all of them are known.
    fn policy(&self, policy: &PolicyTemplate) -> Option<Arc<PolicyDocument>> {
        let key = policy.key();
        if let Some(done) = self.policies.borrow().get(&key) {
            return done.clone();
        }
        let document =
            if !policy.present() || !policy.references().all(|r| (self.lookup)(r).is_some()) {
                None
            } else {
                policy.with(self.lookup)
            };
        self.policies.borrow_mut().insert(key, document.clone());
        document
    }

    /// `policy` as written, its references left as they are.
    fn written(&self, policy: &PolicyTemplate) -> Option<Arc<PolicyDocument>> {
        let key = policy.key();
        if let Some(done) = self.written.borrow().get(&key) {
            return done.clone();
        }
        let document = policy.with(|_| None);
        self.written.borrow_mut().insert(key, document.clone());
        document
    }

    fn export(&self, address: &Address, attribute: &str) -> Option<String> {
        (self.lookup)(&Reference::Resource {
            address: address.clone(),
            attribute: attribute.to_string(),
        })
    }

    fn account_id(&self) -> Option<String> {
        (self.lookup)(&Reference::Aws(AwsFact::AccountId))
    }

    /// The spec's resource of `kind` that `text` names: by its reference (`${queue.work.arn}`)
    /// before values are known, by its resolved ARN (or a key's id) after.
    fn target(&self, text: &Text, kind: Kind) -> Option<&'a Resource> {
        if let [Piece::Ref(Reference::Resource { address, .. }, _)] = text.pieces.as_slice() {
            if address.kind == kind {
                return self.spec.resources.get(address);
            }
        }
        let value = self.text(text)?;
        // An AWS-owned resource (`arn:aws:iam::aws:policy/...`, which most Lambda roles attach)
        // is never the stack's: no need to index every resource's exports to find that out.
        if value.split(':').nth(4) == Some("aws") {
            return None;
        }
        let index = self.by_value.get_or_init(|| {
            let mut index = FastMap::default();
            for r in self.spec.resources.values() {
                let ids: &[&str] = if r.kind() == Kind::Key {
                    &["arn", "key_id"]
                } else {
                    &["arn"]
                };
                for attribute in ids {
                    if let Some(id) = self.export(&r.address, attribute) {
                        // The first resource in address order wins, as a walk over the spec would find it.
                        index.entry((r.kind(), id)).or_insert(r);
                    }
                }
                // A key is named by its aliases too (`kms_key = "alias/tonic-sqs"`), and an
                // existing key by its `key_id`.
                if let ResourceBody::Key(key) = &r.body {
                    for name in key.names() {
                        if let Some(name) = self.text(name) {
                            index.entry((Kind::Key, name)).or_insert(r);
                        }
                    }
                }
            }
            index
        });
        index.get(&(kind, value)).copied()
    }

    /// SQS and S3 encrypt with symmetric encryption keys only: a key of the stack made for
    /// signing, for MACs or with an asymmetric key spec is refused when the queue or bucket is
    /// set to use it.
    fn check_encryption_key(&self, key: &Text, service: &str, diags: &mut Diagnostics) {
        let Some(target) = self.target(key, Kind::Key) else {
            return;
        };
        let ResourceBody::Key(spec) = &target.body else {
            return;
        };
        let setting = |s: &Option<crate::spec::Located<String>>, default: &str| {
            s.as_ref()
                .map(|v| v.get_ref().clone())
                .filter(|v| v != default)
        };
        let usage = setting(&spec.key_usage, "ENCRYPT_DECRYPT");
        let shape = setting(&spec.key_spec, "SYMMETRIC_DEFAULT");
        let Some(what) = usage
            .map(|u| format!("key usage {u}"))
            .or(shape.map(|s| format!("key spec {s}")))
        else {
            return;
        };
        diags.push(
            Diagnostic::error(
                Code::SpecInvalidValue,
                format!(
                    "{} has {what}; {service} encrypts only with symmetric encryption keys (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT)",
                    target.address
                ),
            )
            .at_location(Some(key.location.clone()))
            .hint(format!("use a key of its own for {service}, with the default key spec and usage")),
        );
    }

    fn identity_policies(&self, role: &'a RoleSpec) -> Option<IdentityPolicies<'a>> {
        self.identity_policies_for(role, &[])
    }

    /// The role's identity policies, for a check about `actions` only: a policy whose values
    /// are not all known yet (it names a key that does not exist) is left out when it grants
    /// none of them whatever those values are, instead of leaving the whole check undecided.
    /// A role whose only policy allows `kms:Decrypt` on a key to be created still lacks
    /// `sqs:ReceiveMessage` on the first plan.
    fn identity_policies_for(
        &self,
        role: &'a RoleSpec,
        actions: &[&str],
    ) -> Option<IdentityPolicies<'a>> {
        let mut documents = Vec::new();
        for (_, template) in role.enabled_policies(self.lookup) {
            match self.policy(template) {
                Some(document) => documents.push((document, &template.location)),
                None if !actions.is_empty()
                    && template.present()
                    && self.written(template).is_some_and(|written| {
                        !actions.iter().any(|a| may_allow_action(&[&written], a))
                    }) => {}
                None => return None,
            }
        }
        let mut partial = false;
        for arn in role.managed_policies.iter().flatten() {
            match self.target(arn, Kind::Policy).map(|r| &r.body) {
                Some(ResourceBody::Policy(policy)) => {
                    documents.push((self.policy(&policy.document)?, &policy.document.location))
                }
                _ => partial = true,
            }
        }
        Some(IdentityPolicies { documents, partial })
    }

    fn role_of(&self, function: &FunctionSpec) -> Option<(&'a Resource, &'a RoleSpec)> {
        let resource = self.target(&function.role, Kind::Role)?;
        match &resource.body {
            ResourceBody::Role(role) => Some((resource, role)),
            _ => None,
        }
    }

    fn check_function(
        &self,
        resource: &Resource,
        function: &FunctionSpec,
        diags: &mut Diagnostics,
    ) {
        let role = self.role_of(function);
        if let Some((role_resource, role)) = role {
            self.check_function_trust(resource, role_resource, role, diags);
        }
        for trigger in function.triggers.iter().flatten() {
            let Some(queue_resource) = self.target(&trigger.queue, Kind::Queue) else {
                continue;
            };
            let ResourceBody::Queue(queue) = &queue_resource.body else {
                continue;
            };
            check_visibility_timeout(
                resource,
                function,
                queue_resource,
                queue,
                &trigger.queue.location,
                diags,
            );
            if let Some((role_resource, role)) = role {
                self.check_trigger_access(
                    resource,
                    role_resource,
                    role,
                    queue_resource,
                    &trigger.queue.location,
                    diags,
                );
            }
        }
    }

    /// Lambda runs the function as its role, so the role must trust the Lambda service.
    fn check_function_trust(
        &self,
        function: &Resource,
        role_resource: &Resource,
        role: &RoleSpec,
        diags: &mut Diagnostics,
    ) {
        // An existing role's own trust is not in the spec: AWS is the judge of it.
        let Some(template) = role.trust.as_ref().filter(|_| !role.existing) else {
            return;
        };
        let Some(trust) = self.policy(template) else {
            return;
        };
        let lambda = Principal::service("lambda.amazonaws.com");
        // A trust policy has no Resource: its statements apply to the role they are attached to.
        if !allows(is_allowed(&[&trust], Some(&lambda), "sts:AssumeRole", "*")) {
            diags.push(
                Diagnostic::error(
                    Code::CheckFunctionRoleTrust,
                    format!(
                        "{} runs as {}, whose trust policy does not let lambda.amazonaws.com assume it",
                        function.address, role_resource.address
                    ),
                )
                .at_location(Some(template.location.clone()))
                .label("the trust policy of the function's role")
                .hint("allow { \"Service\": \"lambda.amazonaws.com\" } the action sts:AssumeRole in this trust policy; Lambda refuses to create a function with a role it cannot assume"),
            );
        }
    }

    /// Lambda polls the queue as the function's role.
    fn check_trigger_access(
        &self,
        function: &Resource,
        role_resource: &Resource,
        role: &'a RoleSpec,
        queue: &Resource,
        at: &Location,
        diags: &mut Diagnostics,
    ) {
        if let Some(policies) = self.identity_policies_for(role, &["kms:Decrypt"]) {
            self.check_trigger_key_access(function, role_resource, queue, &policies, at, diags);
        }
        let (Some(policies), Some(queue_arn)) = (
            self.identity_policies_for(role, TRIGGER_QUEUE_ACTIONS),
            self.export(&queue.address, "arn"),
        ) else {
            return;
        };
        let missing: Vec<&str> = TRIGGER_QUEUE_ACTIONS
            .iter()
            .copied()
            .filter(|a| !policies.allow(a, &queue_arn))
            .collect();
        if missing.is_empty() {
            return;
        }
        let message = format!(
            "{} is triggered by {}, but its role {} is not allowed {} on `{queue_arn}`",
            function.address,
            queue.address,
            role_resource.address,
            missing.join(", ")
        );
        diags.push(
            identity_finding(WarningCode::FunctionQueueAccess, message, &policies)
                .at_location(Some(at.clone()))
                .label("the trigger")
                .hint(format!(
                    "allow {} on the queue in a policy of [{}]; Lambda polls the queue as the function's role",
                    TRIGGER_QUEUE_ACTIONS.join(", "),
                    role_resource.address
                )),
        );
    }

    /// A queue encrypted with a customer managed key is read by Lambda as the function's role,
    /// which needs `kms:Decrypt` on the key: from its identity policies, or the key's policy
    /// naming it. Lambda takes the trigger without it, and then fails on every message, so this
    /// is a warning. Only a key of the spec, or one named by its ARN, is judged; AWS managed
    /// keys (`alias/aws/sqs`) let the account's principals in through SQS themselves.
    fn check_trigger_key_access(
        &self,
        function: &Resource,
        role_resource: &Resource,
        queue: &Resource,
        policies: &IdentityPolicies<'_>,
        at: &Location,
        diags: &mut Diagnostics,
    ) {
        let ResourceBody::Queue(queue_spec) = &queue.body else {
            return;
        };
        let Some(key_text) = &queue_spec.kms_key else {
            return;
        };
        let key = self.target(key_text, Kind::Key);
        let key_arn = match key {
            // A key the same apply creates has no ARN yet; a stand-in of its shape (in the
            // stack's account and region) is matched by the policies that would match it.
            Some(key) => self.export(&key.address, "arn").or_else(|| {
                let fact = |f| (self.lookup)(&Reference::Aws(f));
                Some(format!(
                    "arn:{}:kms:{}:{}:key/00000000-0000-0000-0000-000000000000",
                    fact(AwsFact::Partition)?,
                    fact(AwsFact::Region)?,
                    fact(AwsFact::AccountId)?
                ))
            }),
            None => self
                .text(key_text)
                .filter(|v| v.starts_with("arn:") && v.contains(":key/")),
        };
        let Some(key_arn) = key_arn else {
            return;
        };
        if policies.allow("kms:Decrypt", &key_arn) {
            return;
        }
        let role_arn = self.export(&role_resource.address, "arn");
        let key_policy_lets_in = match (key.map(|k| &k.body), &role_arn) {
            (Some(ResourceBody::Key(spec)), Some(role_arn)) => spec
                .policy
                .as_ref()
                .and_then(|p| self.policy(p))
                .is_some_and(|doc| {
                    // A root statement only hands the decision to the role's own policies,
                    // which were asked above.
                    let direct = doc.without_root_delegation();
                    let role = Principal::aws(role_arn.clone());
                    allows(is_allowed(&[&direct], Some(&role), "kms:Decrypt", &key_arn))
                }),
            _ => false,
        };
        if key_policy_lets_in {
            return;
        }
        let key_name = key.map_or(key_arn.clone(), |k| k.address.to_string());
        diags.push(
            Diagnostic::warning(
                WarningCode::FunctionQueueAccess,
                format!(
                    "{} is triggered by {}, encrypted with {key_name}, but its role {} is not allowed kms:Decrypt on the key{}",
                    function.address,
                    queue.address,
                    role_resource.address,
                    if policies.partial { UNLESS_FROM_OUTSIDE } else { "" }
                ),
            )
            .at_location(Some(at.clone()))
            .label("the trigger")
            .hint(format!(
                "allow kms:Decrypt on the key in a policy of [{}]; Lambda reads the queue's messages as the function's role, and every read fails without it",
                role_resource.address
            )),
        );
    }

    /// S3 refuses a bucket policy (MalformedPolicy) with a statement on something other than
    /// the bucket and its objects ("Policy has invalid resource"), or an action of another
    /// service ("Policy has invalid action").
    fn check_bucket_policy(
        &self,
        bucket: &Resource,
        name: &Text,
        policy: &PolicyTemplate,
        diags: &mut Diagnostics,
    ) {
        // Before AWS is read, the bucket's ARN is its name's, in the partition plinth will
        // find (`aws` unless the account is in China or GovCloud).
        let bucket_arn = self
            .export(&bucket.address, "arn")
            .or_else(|| Some(format!("arn:aws:s3:::{}", self.text(name)?)));
        let (Some(document), Some(bucket_arn)) = (self.policy(policy), bucket_arn) else {
            return;
        };
        let objects = format!("{bucket_arn}/*");
        // The partition is not the point here: every ARN is compared as if in `aws`.
        let any_partition =
            |arn: &str| match arn.strip_prefix("arn:").and_then(|r| r.split_once(':')) {
                Some((partition, rest)) if !partition.contains('*') => format!("arn:aws:{rest}"),
                _ => arn.to_string(),
            };
        let (bucket_pattern, objects_pattern) =
            (any_partition(&bucket_arn), any_partition(&objects));
        for (i, statement) in document.statements().iter().enumerate() {
            let name = statement
                .sid
                .clone()
                .unwrap_or_else(|| format!("Statement[{i}]"));
            let mut problems = Vec::new();
            if let Some(crate::policy::Clause::Is(resources)) = &statement.resource {
                for resource in resources {
                    let pattern = any_partition(&crate::policy::pattern::mask_variables(resource));
                    let fits = |arn: &str| crate::policy::pattern::overlaps(&pattern, arn);
                    if !fits(&bucket_pattern) && !fits(&objects_pattern) {
                        problems.push(format!(
                            "its Resource `{resource}` is neither the bucket ({bucket_arn}) nor its objects; S3 refuses it (\"Policy has invalid resource\")"
                        ));
                    }
                }
            }
            if let crate::policy::Clause::Is(actions) = &statement.action {
                for action in actions {
                    let service = action.split_once(':').map(|(s, _)| s);
                    let fits = action == "*"
                        || service.is_some_and(|s| {
                            crate::policy::pattern::overlaps(&s.to_ascii_lowercase(), "s3")
                        });
                    if !fits {
                        problems.push(format!(
                            "its action `{action}` is not one of S3's; S3 refuses it (\"Policy has invalid action\")"
                        ));
                    }
                }
            }
            for problem in problems {
                diags.push(
                    Diagnostic::error(
                        Code::CheckBucketPolicy,
                        format!("{}'s policy, statement {name}: {problem}", bucket.address),
                    )
                    .at_location(Some(policy.location.clone()))
                    .hint(format!(
                        "a bucket policy grants S3 actions on {bucket_arn} and {objects}; grant access to other resources in their own policies"
                    )),
                );
            }
        }
    }

    /// S3 refuses a public bucket policy (PutBucketPolicy: AccessDenied) while the bucket's
    /// Block Public Access blocks public policies; moto accepts it. Here, where the spec turns
    /// `block_public_policy` on; the plan finds a new bucket that leaves the setting to S3,
    /// which turns it on ([`public_policy_on_a_new_bucket`]).
    fn check_public_policy_blocked(
        &self,
        bucket: &Resource,
        spec: &crate::spec::kinds::bucket::BucketSpec,
        policy: &PolicyTemplate,
        diags: &mut Diagnostics,
    ) {
        let blocks = spec
            .public_access_block
            .as_ref()
            .is_some_and(|b| b.block_public_policy);
        let Some(document) = self.policy(policy).filter(|_| blocks) else {
            return;
        };
        if let Some(d) = public_policy_blocked(bucket, policy, &document, "which the spec turns on")
        {
            diags.push(d);
        }
    }

    /// S3 checks that it may invoke a function it is to notify, and refuses the whole
    /// notification document otherwise ("Unable to validate the following destination
    /// configurations"); moto does not. The permission is the function's resource policy
    /// (`lambda:AddPermission`), which plinth does not manage: a function of the stack has
    /// none until someone adds it.
    fn check_notified_function(
        &self,
        bucket: &Resource,
        function: &Text,
        at: &Location,
        diags: &mut Diagnostics,
    ) {
        let Some(target) = self.target(function, Kind::Function) else {
            return;
        };
        diags.push(
            Diagnostic::warning(
                WarningCode::NotificationFunctionPermission,
                format!(
                    "S3 refuses {}'s notifications while {} has no permission letting s3.amazonaws.com invoke it, which plinth does not manage",
                    bucket.address, target.address
                ),
            )
            .at_location(Some(at.clone()))
            .hint("apply once without the notification, add the permission (aws lambda add-permission --principal s3.amazonaws.com --source-arn BUCKET_ARN --source-account ACCOUNT), then add the notification; or notify a queue"),
        );
    }

    fn check_notification(
        &self,
        bucket: &Resource,
        queue_text: &Text,
        at: &Location,
        diags: &mut Diagnostics,
    ) {
        let Some(queue_resource) = self.target(queue_text, Kind::Queue) else {
            return;
        };
        let ResourceBody::Queue(queue) = &queue_resource.body else {
            return;
        };
        // An existing queue's policy is its owner's statements, with the block's merged in:
        // the owner's, which the spec does not hold, may be the ones letting S3 send (a
        // vendor's notification to a customer's queue).
        if queue.existing {
            if let Some(key_text) = &queue.kms_key {
                self.check_notification_key(bucket, queue_resource, key_text, diags);
            }
            return;
        }
        let Some(policy) = &queue.policy else {
            diags.push(
                Diagnostic::error(
                    Code::CheckNotificationQueuePolicy,
                    format!("{} sends events to {}, which has no policy letting s3.amazonaws.com send messages", bucket.address, queue_resource.address),
                )
                .at_location(Some(at.clone()))
                .label("the notification")
                .hint(format!(
                    "give [{}] a policy that allows {{ \"Service\": \"s3.amazonaws.com\" }} sqs:SendMessage on the queue, with the condition ArnLike aws:SourceArn = \"${{{}.arn}}\"; S3 refuses to notify a queue it cannot send to",
                    queue_resource.address, bucket.address
                )),
            );
            return;
        };
        let (Some(document), Some(bucket_arn), Some(queue_arn), Some(account)) = (
            self.policy(policy),
            self.export(&bucket.address, "arn"),
            self.export(&queue_resource.address, "arn"),
            self.account_id(),
        ) else {
            return;
        };
        let s3 = Principal::service("s3.amazonaws.com");
        // What S3 puts in the request context when it sends a bucket's event.
        let context: [(&str, &str); 2] = [
            ("aws:SourceArn", &bucket_arn),
            ("aws:SourceAccount", &account),
        ];
        if !allows(is_allowed_in(
            &[&document],
            Some(&s3),
            "sqs:SendMessage",
            &queue_arn,
            &context,
        )) {
            diags.push(
                Diagnostic::error(
                    Code::CheckNotificationQueuePolicy,
                    format!(
                        "{} sends events to {}, but the queue's policy does not let s3.amazonaws.com send messages from `{bucket_arn}`",
                        bucket.address, queue_resource.address
                    ),
                )
                .at_location(Some(policy.location.clone()))
                .label("the queue's policy")
                .hint(format!(
                    "allow {{ \"Service\": \"s3.amazonaws.com\" }} sqs:SendMessage on the queue, with the condition ArnLike aws:SourceArn = \"${{{}.arn}}\"",
                    bucket.address
                )),
            );
        } else if is_allowed(&[&document], Some(&s3), "sqs:SendMessage", &queue_arn)
            == Decision::Allowed
        {
            diags.push(
                Diagnostic::warning(
                    WarningCode::NotificationQueuePolicy,
                    format!(
                        "{}'s policy lets s3.amazonaws.com send messages without naming a bucket: any bucket, in any account, can send to it",
                        queue_resource.address
                    ),
                )
                .at_location(Some(policy.location.clone()))
                .label("the queue's policy")
                .hint(format!("scope the statement with the condition ArnLike aws:SourceArn = \"${{{}.arn}}\"", bucket.address)),
            );
        }
        if let Some(key_text) = &queue.kms_key {
            self.check_notification_key(bucket, queue_resource, key_text, diags);
        }
    }

    /// S3 encrypts the events it sends to an encrypted queue with the queue's key; without
    /// the key policy's leave, delivery fails silently.
    fn check_notification_key(
        &self,
        bucket: &Resource,
        queue_resource: &Resource,
        key_text: &Text,
        diags: &mut Diagnostics,
    ) {
        let Some(key_resource) = self.target(key_text, Kind::Key) else {
            return;
        };
        let ResourceBody::Key(key) = &key_resource.body else {
            return;
        };
        // An existing key's policy is its owner's, with the block's statements merged in.
        if key.existing {
            return;
        }
        let Some(policy) = &key.policy else {
            diags.push(
                Diagnostic::error(
                    Code::CheckNotificationKeyPolicy,
                    format!(
                        "{} sends events to {}, encrypted with {}, whose default key policy does not let s3.amazonaws.com use it",
                        bucket.address, queue_resource.address, key_resource.address
                    ),
                )
                .at_location(Some(key.location.clone()))
                .label("the queue's key")
                .hint("give the key a policy with a statement allowing { \"Service\": \"s3.amazonaws.com\" } kms:GenerateDataKey and kms:Decrypt on \"*\"; without it S3 drops the events without an error"),
            );
            return;
        };
        let Some(document) = self.policy(policy) else {
            return;
        };
        // A key policy's statements concern its own key. Before the key exists its ARN is
        // unknown; a Resource of "*" (what key policies write) or one covering every key of
        // the account still matches this stand-in.
        let key_arn = match self.export(&key_resource.address, "arn") {
            Some(arn) => arn,
            None => match (
                (self.lookup)(&Reference::Aws(AwsFact::Partition)),
                (self.lookup)(&Reference::Aws(AwsFact::Region)),
                self.account_id(),
            ) {
                (Some(partition), Some(region), Some(account)) => {
                    Kind::Key.type_wide_arn(ArnScope {
                        partition: &partition,
                        region: &region,
                        account_id: &account,
                    })
                }
                _ => return,
            },
        };
        let s3 = Principal::service("s3.amazonaws.com");
        let missing: Vec<&str> = NOTIFICATION_KEY_ACTIONS
            .iter()
            .copied()
            .filter(|a| !allows(is_allowed(&[&document], Some(&s3), a, &key_arn)))
            .collect();
        if !missing.is_empty() {
            diags.push(
                Diagnostic::error(
                    Code::CheckNotificationKeyPolicy,
                    format!(
                        "{} sends events to {}, encrypted with {}, whose key policy does not allow s3.amazonaws.com {}",
                        bucket.address,
                        queue_resource.address,
                        key_resource.address,
                        missing.join(", ")
                    ),
                )
                .at_location(Some(policy.location.clone()))
                .label("the key policy")
                .hint("add a statement allowing { \"Service\": \"s3.amazonaws.com\" } kms:GenerateDataKey and kms:Decrypt on \"*\"; without it S3 drops the events without an error"),
            );
        }
    }

    /// CreateFunction with a role needs iam:PassRole on that role.
    fn check_pass_role(&self, creator: &Resource, role: &'a RoleSpec, diags: &mut Diagnostics) {
        let Some(policies) = self.identity_policies(role) else {
            return;
        };
        if !policies.may_allow("lambda:CreateFunction") {
            return;
        }
        for function_resource in self.spec.resources.values() {
            let ResourceBody::Function(function) = &function_resource.body else {
                continue;
            };
            let (Some((role_resource, _)), Some(function_arn)) = (
                self.role_of(function),
                self.export(&function_resource.address, "arn"),
            ) else {
                continue;
            };
            let Some(role_arn) = self.export(&role_resource.address, "arn") else {
                continue;
            };
            let Some(granted_at) = policies.granted_at("lambda:CreateFunction", &function_arn)
            else {
                continue;
            };
            if policies.allow("iam:PassRole", &role_arn) {
                continue;
            }
            let message = format!(
                "{} may create {} (lambda:CreateFunction), but may not pass it its role {} (iam:PassRole on `{role_arn}`)",
                creator.address, function_resource.address, role_resource.address
            );
            diags.push(
                identity_finding(WarningCode::PassRole, message, &policies)
                    .at_location(Some(granted_at.clone()))
                    .label("allows lambda:CreateFunction")
                    .hint(format!(
                        "allow iam:PassRole on \"${{{}.arn}}\" next to lambda:CreateFunction; Lambda refuses to create a function with a role its creator cannot pass",
                        role_resource.address
                    )),
            );
        }
    }
}

/// A permission missing from a role's policies is an error, or a warning when the role also
/// attaches managed policies from outside the spec that may grant it.
/// Said of a permission a role seems to lack when it also attaches managed policies from
/// outside the spec, whose contents plinth cannot see.
const UNLESS_FROM_OUTSIDE: &str = ", unless a managed policy from outside this spec allows it";

fn identity_finding(
    code: WarningCode,
    message: String,
    policies: &IdentityPolicies<'_>,
) -> Diagnostic {
    if policies.partial {
        Diagnostic::warning(code, format!("{message}{UNLESS_FROM_OUTSIDE}"))
    } else {
        Diagnostic::error(code.into(), message)
    }
}

/// Whether a key policy lets `principal` change it again (`kms:PutKeyPolicy`): what KMS's
/// lockout safety check asks of the identity sending it.
pub(crate) fn lets_change_key_policy(document: &PolicyDocument, principal: &str) -> bool {
    allows(is_allowed(
        &[document],
        Some(&Principal::aws(principal)),
        "kms:PutKeyPolicy",
        "*",
    ))
}

/// Whether some account root the document names may `kms:PutKeyPolicy`.
fn names_an_account_root_that_may_change_it(
    document: &PolicyDocument,
    lets: &dyn Fn(&str) -> bool,
) -> bool {
    document
        .statements()
        .iter()
        .filter_map(|s| match &s.principal {
            Some(crate::policy::Clause::Is(crate::policy::Principals::Listed(listed))) => {
                Some(listed)
            }
            _ => None,
        })
        .flatten()
        .filter(|p| p.id.ends_with(":root") || crate::spec::env::is_account_id(&p.id))
        .any(|p| lets(&p.id))
}

/// Lambda refuses an SQS trigger whose queue would hand a message to another poller while the
/// function may still be working on it.
/// A bucket the plan creates with a public policy and no `public_access_block`: S3 has turned
/// Block Public Access on for every new bucket since April 2023, and then refuses the policy.
pub(crate) fn public_policy_on_a_new_bucket(
    bucket: &Resource,
    document: &PolicyDocument,
) -> Option<Diagnostic> {
    let ResourceBody::Bucket(spec) = &bucket.body else {
        return None;
    };
    let policy = spec.policy.as_ref()?;
    if spec.existing || spec.public_access_block.is_some() {
        return None;
    }
    public_policy_blocked(
        bucket,
        policy,
        document,
        "which S3 turns on for every new bucket",
    )
}

fn public_policy_blocked(
    bucket: &Resource,
    policy: &PolicyTemplate,
    document: &PolicyDocument,
    why: &str,
) -> Option<Diagnostic> {
    let public = document
        .statements()
        .iter()
        .find(|s| is_public_statement(s))?;
    let statement = public.sid.as_deref().unwrap_or("without a Sid");
    Some(
        Diagnostic::error(
            Code::CheckBucketPolicy,
            format!(
                "{}'s policy is public (statement {statement} allows everyone), and S3 refuses a public policy while the bucket's block_public_policy is on, {why}",
                bucket.address
            ),
        )
        .at_location(Some(policy.location.clone()))
        .hint("to publish the bucket, set public_access_block = { block_public_policy = false, restrict_public_buckets = false } (the account's own Block Public Access must allow it too); otherwise narrow the statement with a condition on the caller (aws:PrincipalOrgID, aws:SourceVpce, ...)"),
    )
}

/// Is an Allow statement public as S3 judges a bucket policy: open to everyone (or everyone
/// but some), with no condition that must match a fixed caller, network or source
/// (`aws:PrincipalOrgID`, `aws:SourceVpce`, an `aws:SourceIp` range narrower than all, ...)?
fn is_public_statement(statement: &crate::policy::Statement) -> bool {
    use crate::policy::{Clause, Effect, PrincipalKind, Principals};
    if statement.effect != Effect::Allow {
        return false;
    }
    let everyone = match &statement.principal {
        Some(Clause::Is(Principals::Everyone)) | Some(Clause::Not(_)) => true,
        Some(Clause::Is(Principals::Listed(listed))) => listed
            .iter()
            .any(|p| p.kind == PrincipalKind::Aws && p.id == "*"),
        None => false,
    };
    const FIXING: &[&str] = &[
        "aws:sourcearn",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:sourceaccount",
        "aws:sourceowner",
        "aws:userid",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:principalaccount",
        "aws:principalarn",
        "aws:sourceip",
        "s3:dataaccesspointarn",
        "s3:dataaccesspointaccount",
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
    ];
    // A condition that must match (not negated, `...IfExists` or `ForAllValues`, which hold
    // for a request without the key: an anonymous one) a fixed value.
    let fixes = |c: &crate::policy::Condition| {
        let key = c.key.to_ascii_lowercase();
        FIXING.contains(&key.as_str())
            && crate::policy::holds_only_on_listed_values(&c.operator)
            && !c.values.is_empty()
            && c.values.iter().all(|v| crate::policy::fixed_value(&key, v))
    };
    everyone && !statement.condition.iter().any(fixes)
}

fn check_visibility_timeout(
    function_resource: &Resource,
    function: &FunctionSpec,
    queue_resource: &Resource,
    queue: &QueueSpec,
    trigger_at: &Location,
    diags: &mut Diagnostics,
) {
    let (timeout, timeout_source) = match &function.timeout {
        Some((t, _)) => (*t, String::new()),
        None => (LAMBDA_DEFAULT_TIMEOUT, ", Lambda's default".to_string()),
    };
    let (visibility, at, visibility_source) = match &queue.visibility_timeout {
        Some((v, at)) => (*v, at, String::new()),
        None => (
            SQS_DEFAULT_VISIBILITY_TIMEOUT,
            trigger_at,
            ", SQS's default".to_string(),
        ),
    };
    if visibility >= timeout {
        return;
    }
    diags.push(
        Diagnostic::error(
            Code::CheckVisibilityTimeout,
            format!(
                "{} triggers {}, but hides a received message for {visibility} s{visibility_source}, less than the function's timeout of {timeout} s{timeout_source}",
                queue_resource.address, function_resource.address
            ),
        )
        .at_location(Some(at.clone()))
        .label(if queue.visibility_timeout.is_some() { "the queue's visibility timeout" } else { "the trigger" })
        .hint(format!(
            "set visibility_timeout = {timeout} or more in [{}] (AWS suggests six times the function's timeout); Lambda refuses a trigger whose queue's visibility timeout is shorter than the function's timeout",
            queue_resource.address
        )),
    );
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use crate::plan::{plan, PlanOptions};
    use crate::spec::{self, LoadOptions};
    use crate::state::Account;
    use crate::state::LiveSnapshot;

    fn fixture(path: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(path)
    }

    /// What validate and then a plan into an empty account report, rendered; `edit` turns the
    /// fixture into its fixed twin.
    /// An empty account, read as the identity `user/tester`.
    fn tester_account() -> LiveSnapshot {
        LiveSnapshot {
            account: Some(Account {
                account_id: "123456789012".into(),
                region: "us-east-1".into(),
                partition: "aws".into(),
                caller_arn: "arn:aws:iam::123456789012:user/tester".into(),
                caller_role_arn: None,
            }),
            ..LiveSnapshot::default()
        }
    }

    fn findings(path: &str, edit: Option<(&str, &str)>) -> String {
        let dir = tempfile::tempdir().unwrap();
        let mut text = std::fs::read_to_string(fixture(path)).unwrap();
        if let Some((from, to)) = edit {
            assert!(text.contains(from), "{path} holds `{from}`");
            text = text.replace(from, to);
        }
        let file = dir.path().join(Path::new(path).file_name().unwrap());
        std::fs::write(&file, text).unwrap();
        let spec = match spec::load(&file, &LoadOptions::default()) {
            Ok(spec) => spec,
            Err(diags) => return render(&diags.render(false), dir.path()),
        };
        let live = tester_account();
        let rendered = match plan(&spec, &live, PlanOptions::default()) {
            Ok(plan) => (plan.warnings.iter())
                .map(|w| w.text.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            Err(diags) => diags.render(false),
        };
        render(
            &format!("{}{rendered}", spec.warnings.render(false)),
            dir.path(),
        )
    }

    fn render(text: &str, dir: &Path) -> String {
        text.replace(&dir.display().to_string(), "DIR")
    }

    #[test]
    #[rustfmt::skip]
    fn each_check_fails_on_its_broken_spec_and_passes_on_the_fixed_one() {
        // (fixture, its check's code, the edit that fixes it)
        let cases: &[(&str, &str, (&str, &str))] = &[
            ("bad/visibility-timeout-shorter-than-function-timeout.toml", "check::visibility-timeout", ("name = \"tonic-work\"\n", "name = \"tonic-work\"\nvisibility_timeout = 60\n")),
            ("bad/function-role-without-lambda-trust.toml", "check::function-role-trust", ("ec2.amazonaws.com", "lambda.amazonaws.com")),
            ("checks/function-queue-access.toml", "check::function-queue-access", ("\"sqs:GetQueueAttributes\"]", "\"sqs:GetQueueAttributes\", \"sqs:DeleteMessage\"]")),
            ("checks/notification-queue-policy.toml", "check::notification-queue-policy", ("arn:aws:s3:::tonic-other", "arn:aws:s3:::tonic-data")),
            ("checks/notification-queue-unscoped.toml", "check::notification-queue-policy", ("Resource = \"${queue.work.arn}\" }", "Resource = \"${queue.work.arn}\", Condition = { ArnLike = { \"aws:SourceArn\" = \"${bucket.data.arn}\" } } }")),
            ("checks/notification-key-policy.toml", "check::notification-key-policy", ("\"Resource\": \"*\"\n    }]", "\"Resource\": \"*\"\n    }, {\n        \"Effect\": \"Allow\", \"Principal\": { \"Service\": \"s3.amazonaws.com\" },\n        \"Action\": [\"kms:Decrypt\", \"kms:GenerateDataKey\"], \"Resource\": \"*\"\n    }]")),
            ("checks/notification-function-permission.toml", "check::notification-function-permission", ("function = \"${function.worker.arn}\"", "function = \"arn:aws:lambda:us-east-1:123456789012:function:tonic-elsewhere\"")),
            ("checks/pass-role.toml", "check::pass-role", ("\"lambda:GetFunctionConfiguration\"], Resource = \"arn:aws:lambda:*:*:function:tonic-*\" },", "\"lambda:GetFunctionConfiguration\"], Resource = \"arn:aws:lambda:*:*:function:tonic-*\" },\n  { Effect = \"Allow\", Action = \"iam:PassRole\", Resource = \"${role.lambda.arn}\" },")),
        ];
        for (path, code, fix) in cases {
            let broken = findings(path, None);
            assert!(broken.contains(code), "{path}: expected {code} in\n{broken}");
            let name = Path::new(path).file_stem().unwrap().to_string_lossy().into_owned();
            insta::with_settings!({ snapshot_path => "../../fixtures/snapshots", prepend_module_to_snapshot => false }, {
                insta::assert_snapshot!(format!("check@{name}"), broken);
            });
            let fixed = findings(path, Some(*fix));
            assert!(!fixed.contains("check::"), "{path}: the fixed spec passes every check, but\n{fixed}");
        }
    }

    #[test]
    fn a_missing_permission_that_a_managed_policy_from_elsewhere_may_grant_is_a_warning() {
        let attached = ("[role.lambda.policies.queue]", "managed_policies = [\"arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole\"]\n\n[role.lambda.policies.queue]");
        let found = findings("checks/function-queue-access.toml", Some(attached));
        assert!(
            found.contains("⚠") && found.contains("check::function-queue-access"),
            "{found}"
        );
        assert!(found.contains("unless a managed policy"), "{found}");
    }

    /// Before AWS is read, a key policy that lets some account's root change it may be letting
    /// the stack's own: no lockout warning then, unless the spec names its account and the
    /// root is another's.
    #[test]
    fn a_key_policy_naming_an_account_root_is_judged_once_the_account_is_known() {
        let warned = |account: &str| {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("plinth.toml");
            std::fs::write(
                &file,
                format!(
                    r#"[stack]
name = "k"
{account}
[key.k]
policy = {{ Version = "2012-10-17", Statement = [{{ Sid = "Root", Effect = "Allow", Principal = {{ AWS = "arn:aws:iam::123456789012:root" }}, Action = "kms:*", Resource = "*" }}] }}
"#
                ),
            )
            .unwrap();
            let spec = spec::load(&file, &LoadOptions::default())
                .unwrap_or_else(|d| panic!("{}", d.render(false)));
            spec.warnings.render(false).contains("check::key-lockout")
        };
        assert!(!warned(""));
        assert!(!warned("account_id = \"123456789012\""));
        assert!(warned("account_id = \"210987654321\""));
    }

    /// A queue encrypted with a customer managed key: the function's role needs kms:Decrypt
    /// on it, which Lambda does not check when it creates the trigger.
    #[test]
    fn a_trigger_on_an_encrypted_queue_needs_decrypt_on_its_key() {
        let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let all_sqs =
            "Action = [\"sqs:ReceiveMessage\", \"sqs:DeleteMessage\", \"sqs:GetQueueAttributes\"]";
        let encrypted = |extra: &str| {
            let mut text =
                std::fs::read_to_string(fixture("checks/function-queue-access.toml")).unwrap();
            text = text.replace(
                "Action = [\"sqs:ReceiveMessage\", \"sqs:GetQueueAttributes\"]",
                all_sqs,
            );
            text = text.replace(
                "name = \"tonic-work\"\n",
                &format!("name = \"tonic-work\"\nkms_key = \"{key}\"\n"),
            );
            text.replace(
                "Resource = \"arn:aws:sqs:*:${aws.account_id}:tonic-*\" }]",
                &format!("Resource = \"arn:aws:sqs:*:${{aws.account_id}}:tonic-*\" }}{extra}]"),
            )
        };
        let run = |text: String| {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("plinth.toml");
            std::fs::write(&file, text).unwrap();
            let spec = spec::load(&file, &LoadOptions::default())
                .unwrap_or_else(|d| panic!("{}", d.render(false)));
            let live = tester_account();
            let plan = plan(&spec, &live, PlanOptions::default())
                .unwrap_or_else(|d| panic!("{}", d.render(false)));
            (plan.warnings.iter())
                .map(|w| format!("{} {}\n", w.code, w.text))
                .collect::<String>()
        };
        let missing = run(encrypted(""));
        assert!(missing.contains("kms:Decrypt on the key"), "{missing}");
        assert!(
            missing.contains("check::function-queue-access"),
            "{missing}"
        );
        let granted = run(encrypted(&format!(
            ", {{ Effect = \"Allow\", Action = \"kms:Decrypt\", Resource = \"{key}\" }}"
        )));
        assert!(!granted.contains("kms:Decrypt"), "{granted}");
    }

    /// A queue encrypted with a key of the spec whose policy only delegates to the account's
    /// IAM policies (the root statement): the role still needs kms:Decrypt in its own
    /// policies. Found on the first plan, before the key exists, and on every plan after.
    #[test]
    fn a_trigger_on_a_queue_encrypted_with_a_key_of_the_spec_needs_decrypt() {
        let all_sqs =
            "Action = [\"sqs:ReceiveMessage\", \"sqs:DeleteMessage\", \"sqs:GetQueueAttributes\"]";
        let key = "[key.k]\ndescription = \"k\"\npolicy = { Version = \"2012-10-17\", Statement = [{ Sid = \"Root\", Effect = \"Allow\", Principal = { AWS = \"arn:aws:iam::${aws.account_id}:root\" }, Action = \"kms:*\", Resource = \"*\" }] }\n\n[queue.work]";
        let text = std::fs::read_to_string(fixture("checks/function-queue-access.toml"))
            .unwrap()
            .replace(
                "Action = [\"sqs:ReceiveMessage\", \"sqs:GetQueueAttributes\"]",
                all_sqs,
            )
            .replace("[queue.work]", key)
            .replace(
                "name = \"tonic-work\"\n",
                "name = \"tonic-work\"\nkms_key = \"${key.k.arn}\"\n",
            );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plinth.toml");
        std::fs::write(&file, &text).unwrap();
        let spec = spec::load(&file, &LoadOptions::default())
            .unwrap_or_else(|d| panic!("{}", d.render(false)));
        let plan = plan(&spec, &tester_account(), PlanOptions::default())
            .unwrap_or_else(|d| panic!("{}", d.render(false)));
        let warnings: String = (plan.warnings.iter())
            .map(|w| format!("{} {}\n", w.code, w.text))
            .collect();
        assert!(
            warnings.contains("not allowed kms:Decrypt on the key"),
            "{warnings}"
        );
    }

    /// A queue may name its key by one of the key's aliases, written out or through a
    /// variable, as a stack that also takes a key of yours does: the key is still the spec's,
    /// so the checks judge its policy and apply creates it before the queue.
    #[test]
    fn a_key_named_by_its_alias_is_the_specs_key() {
        let by_alias = (
            "kms_key = \"${key.sqs.arn}\"",
            "kms_key = \"${var.kms_key}\"",
        );
        let text = std::fs::read_to_string(fixture("checks/notification-key-policy.toml"))
            .unwrap()
            .replace(by_alias.0, by_alias.1)
            .replace(
                "[key.sqs]",
                "[vars]\nkms_key = \"alias/tonic-sqs\"\n\n[key.sqs]",
            );
        let planned = |text: &str| {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("plinth.toml");
            std::fs::write(&file, text).unwrap();
            let spec = spec::load(&file, &LoadOptions::default())
                .unwrap_or_else(|d| panic!("{}", d.render(false)));
            plan(&spec, &tester_account(), PlanOptions::default())
        };
        let refused = planned(&text)
            .expect_err("the key policy lacks S3")
            .render(false);
        assert!(
            refused.contains("check::notification-key-policy"),
            "{refused}"
        );
        let with_s3 = text.replace(
            "\"Resource\": \"*\"\n    }]",
            "\"Resource\": \"*\"\n    }, {\n        \"Effect\": \"Allow\", \"Principal\": { \"Service\": \"s3.amazonaws.com\" },\n        \"Action\": [\"kms:Decrypt\", \"kms:GenerateDataKey\"], \"Resource\": \"*\"\n    }]",
        );
        let plan = planned(&with_s3).unwrap_or_else(|d| panic!("{}", d.render(false)));
        let queue = plan
            .changes
            .iter()
            .find(|c| c.address.to_string() == "queue.work")
            .unwrap();
        assert!(
            queue.depends_on.iter().any(|a| a.to_string() == "key.sqs"),
            "{:?}",
            queue.depends_on
        );
    }

    /// A policy of the role that names a key not created yet is not known on the first plan;
    /// when it allows nothing of SQS whatever the key's ARN, the missing SQS permissions are
    /// found all the same (they were found only on the plans after the key existed).
    #[test]
    fn a_policy_naming_a_resource_not_created_yet_does_not_hide_a_missing_permission() {
        let decrypt_only = (
            "[queue.work]",
            "[key.k]\ndescription = \"k\"\n\n[role.lambda.policies.kms]\nVersion = \"2012-10-17\"\nStatement = [{ Effect = \"Allow\", Action = \"kms:Decrypt\", Resource = \"${key.k.arn}\" }]\n\n[queue.work]",
        );
        let found = findings("checks/function-queue-access.toml", Some(decrypt_only));
        assert!(
            found.contains("check::function-queue-access") && found.contains("sqs:DeleteMessage"),
            "{found}"
        );
        // A policy that may allow SQS once the key is known keeps the check undecided.
        let may_allow = (
            "[queue.work]",
            "[key.k]\ndescription = \"k\"\n\n[role.lambda.policies.kms]\nVersion = \"2012-10-17\"\nStatement = [{ Effect = \"Allow\", Action = [\"kms:Decrypt\", \"sqs:DeleteMessage\"], Resource = [\"${key.k.arn}\", \"*\"] }]\n\n[queue.work]",
        );
        let found = findings("checks/function-queue-access.toml", Some(may_allow));
        assert!(!found.contains("check::function-queue-access"), "{found}");
    }

    #[test]
    fn a_notified_queue_without_a_policy_and_a_key_with_the_default_policy_are_errors() {
        let unscoped =
            std::fs::read_to_string(fixture("checks/notification-queue-unscoped.toml")).unwrap();
        let queue_policy = unscoped
            .lines()
            .find(|l| l.starts_with("policy = "))
            .unwrap();
        let found = findings(
            "checks/notification-queue-unscoped.toml",
            Some((queue_policy, "")),
        );
        assert!(
            found.contains("× bucket.data sends events to queue.work, which has no policy"),
            "{found}"
        );
        // An existing queue's policy is its owner's: what lets S3 send may be theirs.
        let found = findings(
            "checks/notification-queue-unscoped.toml",
            Some((queue_policy, "existing = true")),
        );
        assert!(!found.contains("check::notification"), "{found}");
        assert!(found.contains("plan::missing-existing"), "{found}");

        let key = std::fs::read_to_string(fixture("checks/notification-key-policy.toml")).unwrap();
        let key_policy =
            &key[key.find("policy = '''").unwrap()..key.find("[[key.sqs.silence]]").unwrap()];
        let found = findings(
            "checks/notification-key-policy.toml",
            Some((key_policy, "")),
        );
        assert!(
            found.contains("check::notification-key-policy")
                && found.contains("whose default key policy"),
            "{found}"
        );
    }

    #[test]
    fn unset_timeouts_are_compared_as_aws_defaults() {
        // Lambda's 3 s fits in SQS's 30 s.
        let fits = findings(
            "bad/visibility-timeout-shorter-than-function-timeout.toml",
            Some(("timeout = 60\n", "")),
        );
        assert!(!fits.contains("check::"), "{fits}");
        let too_short = findings(
            "bad/visibility-timeout-shorter-than-function-timeout.toml",
            Some((
                "name = \"tonic-work\"\n",
                "name = \"tonic-work\"\nvisibility_timeout = 2\n",
            )),
        );
        assert!(
            too_short.contains("hides a received message for 2 s"),
            "{too_short}"
        );
    }

    #[test]
    fn a_queue_named_by_its_arn_written_out_is_checked_at_plan() {
        let written_out = (
            "queue = \"${queue.work.arn}\"",
            "queue = \"arn:aws:sqs:${aws.region}:${aws.account_id}:tonic-work\"",
        );
        let found = findings(
            "bad/visibility-timeout-shorter-than-function-timeout.toml",
            Some(written_out),
        );
        assert!(found.contains("check::visibility-timeout"), "{found}");
        // Before AWS is read the ARN is unknown, so validate lets the spec through.
        assert!(!found.contains("nothing was sent"), "{found}");
    }

    #[test]
    fn the_shipped_stacks_pass_every_check_either_way_their_switches_are_set() {
        let plans = Path::new(env!("CARGO_MANIFEST_DIR")).join("plans");
        for (stack, switches) in [
            ("tonic-structural-redshift.toml", &["previous_process"][..]),
            ("gretel-hybrid.toml", &["s3_source", "s3_sink"][..]),
            ("ganymede-s3.toml", &[][..]),
            ("openmetadata-glue.toml", &[][..]),
        ] {
            for value in ["true", "false"] {
                let var_overrides = switches
                    .iter()
                    .map(|s| (s.to_string(), value.to_string()))
                    .collect();
                let spec = spec::load(
                    &plans.join(stack),
                    &LoadOptions {
                        var_overrides,
                        ..Default::default()
                    },
                )
                .unwrap_or_else(|d| panic!("{stack}: {}", d.render(false)));
                let account = Account {
                    account_id: "123456789012".into(),
                    region: "us-east-1".into(),
                    partition: "aws".into(),
                    caller_arn: String::new(),
                    caller_role_arn: None,
                };
                let resolver = crate::spec::resolve::Resolver::new(&spec, &account, None);
                let found = super::check(&spec, |r| resolver.lookup(r));
                assert!(
                    found.0.is_empty(),
                    "{stack} with {value}: {}",
                    found.render(false)
                );
            }
        }
    }
}
