//! Lints: things IAM accepts that a reviewer should look at. Codes and severities are stable
//! (users silence lints by code), and every rule is listed in [`LINT_RULES`].

use serde::Serialize;

use super::access::{action_set, aws_account, Part};
use super::model::{
    Clause, Effect, PolicyDocument, Principal, PrincipalKind, Principals, Statement, Version,
};
use super::{canon, is_unique_id, pattern, statement_label};

mod catalog;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LintRule {
    pub code: LintCode,
    pub severity: Severity,
    pub summary: &'static str,
}

/// Declares each rule as a constant, its code as a variant of [`LintCode`], and lists them all
/// in `LINT_RULES`.
macro_rules! lint_rules {
    ($($name:ident $variant:ident = $code:literal, $severity:ident, $summary:literal;)*) => {
        /// The closed set of lint codes; each is written (in plans, spec files and messages) as
        /// its stable `P0NN` string.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum LintCode {
            $($variant),*
        }

        impl LintCode {
            /// Lints for what AWS itself refuses (IAM's `MalformedPolicyDocument`): silencing
            /// one would only move the failure to the middle of an apply.
            pub const fn refused_by_aws(self) -> bool {
                matches!(self, LintCode::ElementMisfitsKind | LintCode::NotPrincipalInTrust | LintCode::SidNotAlphanumeric | LintCode::TrustAction | LintCode::WildcardServicePrefix)
            }

            pub const fn as_str(self) -> &'static str {
                match self {
                    $(LintCode::$variant => $code),*
                }
            }
        }

        $(const $name: LintRule = LintRule { code: LintCode::$variant, severity: Severity::$severity, summary: $summary };)*
        pub const LINT_RULES: &[LintRule] = &[$($name),*];
    };
}

lint_rules! {
    WRITE_ON_ANY_RESOURCE WriteOnAnyResource = "P001", Warning, "identity policy allows write or permissions-management actions on Resource \"*\"";
    PUBLIC_WITHOUT_CONDITION PublicWithoutCondition = "P002", Error, "Allow to Principal \"*\" without a Condition";
    WILDCARD_ACTION WildcardAction = "P003", Warning, "Allow of \"*\" or \"service:*\"";
    NEGATED_ALLOW NegatedAllow = "P004", Warning, "Allow with NotAction, NotResource or NotPrincipal";
    WEB_IDENTITY_WITHOUT_AUDIENCE WebIdentityWithoutAudience = "P005", Error, "web-identity trust without an audience (aud) condition";
    WEB_IDENTITY_WILDCARD_SUBJECT WebIdentityWildcardSubject = "P006", Warning, "wildcard in a web-identity subject (sub) condition, or none where the issuer signs for many subjects (EKS, GitHub, GitLab, HCP Terraform)";
    UNKNOWN_ACCOUNT UnknownAccount = "P007", Warning, "AWS principal in an account that is not among the known accounts";
    MALFORMED_ARN MalformedArn = "P008", Error, "malformed ARN in Resource or Principal";
    LEGACY_VERSION LegacyVersion = "P009", Info, "Version missing or 2008-10-17";
    LITERAL_POLICY_VARIABLE LiteralPolicyVariable = "P010", Warning, "policy variable under Version 2008-10-17, where it is matched literally";
    DUPLICATE_SID DuplicateSid = "P011", Error, "duplicate Sid";
    UNIQUE_ID_PRINCIPAL UniqueIdPrincipal = "P012", Warning, "principal is an IAM unique id: the role or user it named was deleted";
    ELEMENT_MISFITS_KIND ElementMisfitsKind = "P013", Error, "Principal or Resource missing, or not allowed in this kind of document";
    NOT_PRINCIPAL_IN_TRUST NotPrincipalInTrust = "P014", Error, "NotPrincipal in a role trust policy, which IAM rejects";
    SID_NOT_ALPHANUMERIC SidNotAlphanumeric = "P015", Error, "Sid with characters other than letters and digits in an identity or trust policy, which IAM rejects";
    UNKNOWN_ACTION UnknownAction = "P016", Error, "action or service prefix that the IAM catalog does not know";
    WILDCARD_MATCHES_NOTHING WildcardMatchesNothing = "P017", Warning, "action wildcard that matches no action of its service";
    ACTION_RESOURCE_MISMATCH ActionResourceMismatch = "P018", Warning, "action whose resource types cannot match any of the statement's resources";
    UNSUPPORTED_CONDITION_KEY UnsupportedConditionKey = "P019", Warning, "condition key that no action of the statement supports, or an unknown global key";
    OPERATOR_TYPE_MISMATCH OperatorTypeMismatch = "P020", Warning, "condition operator that does not fit the key's type";
    UNKNOWN_SERVICE_PRINCIPAL UnknownServicePrincipal = "P021", Error, "service principal that misspells a known one, or is not shaped as one";
    INVALID_PRINCIPAL_ARN InvalidPrincipalArn = "P022", Error, "AWS principal ARN that names no IAM principal (root, role, user, assumed role, federated user), or holds a wildcard; a federated principal that is not an identity provider's ARN or one IAM knows by name";
    TRUST_ACTION TrustAction = "P023", Error, "action other than sts:AssumeRole and its kin in a role trust policy, which IAM rejects";
    WILDCARD_SERVICE_PREFIX WildcardServicePrefix = "P024", Error, "wildcard in an action's service prefix, which IAM rejects";
    CONDITION_VALUE_MISFITS ConditionValueMisfits = "P025", Warning, "condition value its operator cannot compare (an address, number, date or boolean that is not one), so the condition never holds";
    UNLISTED_SERVICE_PRINCIPAL UnlistedServicePrincipal = "P026", Warning, "well-formed service principal that is not in plinth's list of AWS services";
    CANONICAL_USER_PRINCIPAL CanonicalUserPrincipal = "P027", Warning, "CanonicalUser principal, which S3 stores as the AWS principal it stands for, so the policy never reads back as written";
    FOR_ALL_VALUES_ON_SINGLE_VALUE ForAllValuesOnSingleValue = "P028", Warning, "ForAllValues on a single-valued condition key in an Allow, which then also admits requests without the key";
}

/// The actions a role trust policy may hold: IAM refuses any other with "AssumeRole policy may
/// only specify STS AssumeRole actions".
const TRUST_ACTIONS: &[&str] = &[
    "sts:assumerole",
    "sts:assumerolewithsaml",
    "sts:assumerolewithwebidentity",
    "sts:tagsession",
    "sts:setsourceidentity",
    "sts:setcontext",
];

impl LintCode {
    /// The code written as `P0NN`; `None` for a code no rule has.
    pub fn parse(code: &str) -> Option<LintCode> {
        LINT_RULES
            .iter()
            .map(|rule| rule.code)
            .find(|c| c.as_str() == code)
    }
}

impl std::fmt::Display for LintCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for LintCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for LintCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        LintCode::parse(&code)
            .ok_or_else(|| serde::de::Error::custom(format!("`{code}` is not a policy lint")))
    }
}

/// What a document is attached to, which decides what its statements must contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// Attached to a role, user or group: no Principal, Resource required.
    Identity,
    /// A role's trust policy: Principal required, no Resource.
    Trust,
    /// Attached to a resource: Principal and Resource required. It holds what messages call
    /// the document ("an SQS queue policy"), from the kind's table of attributes
    /// (`model::attributes`), which says which of a kind's attributes are which documents.
    Resource(&'static str),
}

/// A KMS key's policy, which some lints know by kind (the key's table of attributes names it).
pub const KEY_POLICY: DocumentKind = DocumentKind::Resource("a KMS key policy");

#[derive(Clone, Copy)]
enum Presence {
    Required,
    Forbidden,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintContext {
    pub kind: DocumentKind,
    /// The own account and the accounts named by variables; principals elsewhere are linted.
    pub known_accounts: Vec<String>,
    /// The stack's own account, when known: its root in a key policy delegates to IAM.
    pub own_account: Option<String>,
    /// `(Sid or Statement[i], code)` silences a lint on one statement, `(None, code)` on the
    /// whole document.
    pub silenced: Vec<(Option<String>, LintCode)>,
}

impl LintContext {
    pub fn new(kind: DocumentKind) -> LintContext {
        LintContext {
            kind,
            known_accounts: Vec::new(),
            own_account: None,
            silenced: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lint {
    pub code: LintCode,
    pub severity: Severity,
    /// The Sid or `Statement[i]`; `None` for the document as a whole.
    pub statement: Option<String>,
    /// One line, no trailing period.
    pub message: String,
}

impl Lint {
    /// Whether AWS refuses the document for this finding, so it cannot be silenced: the codes
    /// that say so everywhere, and P018 and P019 in a bucket policy, which S3 checks
    /// ("Action does not apply to any resource(s) in statement", "Policy has invalid
    /// condition key") where IAM takes an identity policy with them.
    pub fn refused_by_aws(&self) -> bool {
        self.code.refused_by_aws()
            || self.severity == Severity::Error
                && matches!(
                    self.code,
                    LintCode::ActionResourceMismatch | LintCode::UnsupportedConditionKey
                )
    }
}

/// Lints a document: document-wide findings first, then each statement's in order.
pub fn lint(doc: &PolicyDocument, ctx: &LintContext) -> Vec<Lint> {
    let mut lints = Vec::new();
    let legacy_version = doc.version() != Some(Version::V2012_10_17);
    if legacy_version {
        let written = doc.version().map_or("missing", Version::as_str);
        report(
            &mut lints,
            LEGACY_VERSION,
            None,
            format!("Version is {written}; use 2012-10-17"),
        );
    }
    let mut sids_seen: Vec<&str> = Vec::new();
    for (index, statement) in doc.statements().iter().enumerate() {
        let label = statement_label(statement, index);
        let checker = StatementChecker {
            statement,
            normalized: statement.normalized(),
            label: &label,
            ctx,
        };
        checker.check(&mut lints);
        if legacy_version {
            checker.check_policy_variables(&mut lints);
        }
        if let Some(sid) = &statement.sid {
            if sids_seen.contains(&sid.as_str()) {
                report(
                    &mut lints,
                    DUPLICATE_SID,
                    Some(&label),
                    format!("Sid {sid:?} is used by an earlier statement"),
                );
            }
            sids_seen.push(sid);
        }
    }
    if matches!(ctx.kind, DocumentKind::Resource(what) if what.contains("S3 bucket")) {
        for lint in &mut lints {
            if matches!(
                lint.code,
                LintCode::ActionResourceMismatch | LintCode::UnsupportedConditionKey
            ) {
                lint.severity = Severity::Error;
            }
        }
    }
    lints.retain(|lint| {
        lint.refused_by_aws()
            || !ctx.silenced.iter().any(|(scope, code)| {
                *code == lint.code
                    && (scope.is_none() || scope.as_deref() == lint.statement.as_deref())
            })
    });
    lints
}

fn report(lints: &mut Vec<Lint>, rule: LintRule, statement: Option<&str>, message: String) {
    lints.push(Lint {
        code: rule.code,
        severity: rule.severity,
        statement: statement.map(str::to_string),
        message,
    });
}

struct StatementChecker<'a> {
    /// As written, for messages in the user's spelling.
    statement: &'a Statement,
    /// For the checks, which rely on normalized case and principal forms.
    normalized: Statement,
    label: &'a str,
    ctx: &'a LintContext,
}

impl StatementChecker<'_> {
    fn report(&self, lints: &mut Vec<Lint>, rule: LintRule, message: String) {
        report(lints, rule, Some(self.label), message);
    }

    fn check(&self, lints: &mut Vec<Lint>) {
        self.check_kind(lints);
        self.check_iam_grammar(lints);
        self.check_against_catalog(lints);
        if self.statement.effect == Effect::Allow {
            self.check_write_on_any_resource(lints);
            self.check_public(lints);
            self.check_wildcard_actions(lints);
            self.check_negated(lints);
            self.check_web_identity(lints);
            self.check_accounts(lints);
        }
        self.check_arns(lints);
        for principal in self.aws_principals() {
            if is_unique_id(&principal.id) {
                let message = format!("principal {} is a unique id: the role or user it named was deleted, so the grant no longer applies to any name", principal.id);
                self.report(lints, UNIQUE_ID_PRINCIPAL, message);
            }
        }
        let listed = self.statement.listed_principals().iter();
        for principal in listed.filter(|p| p.kind == PrincipalKind::CanonicalUser) {
            let message = format!(
                "CanonicalUser \"{}\" is stored by S3 as the AWS principal it stands for (an origin access identity's ARN, arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity ID, or an account's root), so every plan would show this statement changed; write that principal as AWS instead",
                principal.id
            );
            self.report(lints, CANONICAL_USER_PRINCIPAL, message);
        }
    }

    fn check_kind(&self, lints: &mut Vec<Lint>) {
        use Presence::{Forbidden, Required};
        let (principal, resource, document) = match self.ctx.kind {
            DocumentKind::Identity => (Forbidden, Required, "an identity policy"),
            DocumentKind::Trust => (Required, Forbidden, "a trust policy"),
            DocumentKind::Resource(document) => (Required, Required, document),
        };
        let elements = [
            ("Principal", principal, self.statement.principal.is_some()),
            ("Resource", resource, self.statement.resource.is_some()),
        ];
        for (element, presence, present) in elements {
            let problem = match (presence, present) {
                (Required, false) => "is required in",
                (Forbidden, true) => "is not allowed in",
                _ => continue,
            };
            // KMS takes a key policy statement without Resource, and never applies it.
            let effect = if element == "Resource" && !present && document.contains("KMS") {
                ": KMS accepts the statement without it and ignores it, so it grants nothing (write \"Resource\": \"*\", the key itself)"
            } else {
                ""
            };
            self.report(
                lints,
                ELEMENT_MISFITS_KIND,
                format!("{element} {problem} {document}{effect}"),
            );
        }
    }

    /// IAM's own documents (identity and trust policies) are stricter than the resource
    /// policies of other services: a Sid is letters and digits only, and a trust policy has no
    /// NotPrincipal. IAM rejects both with MalformedPolicyDocument.
    fn check_iam_grammar(&self, lints: &mut Vec<Lint>) {
        if matches!(self.ctx.kind, DocumentKind::Resource(_)) {
            return;
        }
        if let Some(sid) = &self.statement.sid {
            if !sid.chars().all(|c| c.is_ascii_alphanumeric()) {
                let message = format!("Sid {sid:?} has characters other than letters and digits, which IAM rejects in its policies");
                self.report(lints, SID_NOT_ALPHANUMERIC, message);
            }
        }
        if self.ctx.kind == DocumentKind::Trust
            && matches!(self.statement.principal, Some(Clause::Not(_)))
        {
            let message = "NotPrincipal is not allowed in a role trust policy; list the principals in Principal".to_string();
            self.report(lints, NOT_PRINCIPAL_IN_TRUST, message);
        }
        if self.ctx.kind == DocumentKind::Trust {
            if let Clause::Is(actions) = &self.statement.action {
                for action in actions.iter().filter(|a| pattern::find_open(a).is_none()) {
                    let lower = action.to_ascii_lowercase();
                    // A misspelt STS action is P016's, with its did-you-mean.
                    let misspelt_sts = lower.starts_with("sts:")
                        && crate::policy::catalog::catalog()
                            .actions_matching(&lower)
                            .next()
                            .is_none();
                    if !misspelt_sts && !TRUST_ACTIONS.iter().any(|t| pattern::overlaps(&lower, t))
                    {
                        let message = format!("action {action:?} is not allowed in a role trust policy: IAM takes only sts:AssumeRole, sts:AssumeRoleWithWebIdentity, sts:AssumeRoleWithSAML, sts:TagSession, sts:SetSourceIdentity and sts:SetContext there; what the role may do belongs in its policies");
                        self.report(lints, TRUST_ACTION, message);
                    }
                }
            }
        }
    }

    /// In resource policies `"*"` means the resource the policy is attached to, so this only
    /// applies to identity policies. Some actions have no resource to name (creating a KMS
    /// key, a Lambda event source mapping); a condition that names the resources in another
    /// way (their tags, the function or policy concerned) narrows them as a Resource would.
    fn check_write_on_any_resource(&self, lints: &mut Vec<Lint>) {
        let any_resource = matches!(&self.statement.resource, Some(Clause::Is(resources)) if resources.iter().any(|r| r == "*"));
        let Clause::Is(actions) = &self.statement.action else {
            return;
        };
        let narrowed = self
            .statement
            .condition
            .iter()
            .any(|c| names_resources(&c.key) && !c.operator.ends_with("IfExists"));
        if self.ctx.kind != DocumentKind::Identity || !any_resource || narrowed {
            return;
        }
        let writes: Vec<&str> = actions
            .iter()
            .filter(|action| is_write_action(&action.to_lowercase()))
            .map(String::as_str)
            .collect();
        if !writes.is_empty() {
            let message = format!(
                "write actions {} are allowed on Resource \"*\"",
                writes.join(", ")
            );
            self.report(lints, WRITE_ON_ANY_RESOURCE, message);
        }
    }

    fn check_public(&self, lints: &mut Vec<Lint>) {
        if self.normalized.principal == Some(Clause::Is(Principals::Everyone))
            && self.normalized.condition.is_empty()
        {
            let message =
                "Principal \"*\" without a Condition allows anyone, including anonymous callers"
                    .to_string();
            self.report(lints, PUBLIC_WITHOUT_CONDITION, message);
        }
    }

    fn check_wildcard_actions(&self, lints: &mut Vec<Lint>) {
        let Clause::Is(actions) = &self.statement.action else {
            return;
        };
        if self.is_default_key_statement() {
            return;
        }
        for action in actions {
            let name = action
                .split_once(':')
                .map_or(action.as_str(), |(_, name)| name);
            if pattern::is_universal(name) {
                let message =
                    format!("action {action:?} allows every present and future action it covers");
                self.report(lints, WILDCARD_ACTION, message);
            }
        }
    }

    fn check_negated(&self, lints: &mut Vec<Lint>) {
        let negated: Vec<&str> = [
            (
                "NotPrincipal",
                matches!(self.statement.principal, Some(Clause::Not(_))),
            ),
            ("NotAction", self.statement.action.is_negated()),
            (
                "NotResource",
                matches!(self.statement.resource, Some(Clause::Not(_))),
            ),
        ]
        .into_iter()
        .filter_map(|(name, present)| present.then_some(name))
        .collect();
        if !negated.is_empty() {
            let message = format!(
                "Allow with {} allows everything not listed, including what is added later",
                negated.join(" and ")
            );
            self.report(lints, NEGATED_ALLOW, message);
        }
    }

    /// Without an audience condition, a token the provider issued to any application can
    /// assume the role; Google and Cognito issue tokens to anyone who asks.
    fn check_web_identity(&self, lints: &mut Vec<Lint>) {
        let web_identity = "sts:assumerolewithwebidentity".to_string();
        if !action_set(&self.normalized).covers(&Part::One(&web_identity)) {
            return;
        }
        let Some(Clause::Is(Principals::Listed(listed))) = &self.normalized.principal else {
            return;
        };
        for provider in listed.iter().filter(|p| p.kind == PrincipalKind::Federated) {
            let Some(key_prefix) = web_identity_key_prefix(&provider.id) else {
                continue;
            };
            let audience_key = format!("{key_prefix}:aud").to_lowercase();
            let has_audience = self.normalized.condition.iter().any(|condition| {
                condition.key == audience_key
                    && !condition.is_negated()
                    && !condition
                        .values
                        .iter()
                        .any(|value| pattern::has_wildcard(value))
            });
            if !has_audience {
                let message = format!("web-identity trust of {} has no {audience_key} condition, so tokens issued to any application are accepted", provider.id);
                self.report(lints, WEB_IDENTITY_WITHOUT_AUDIENCE, message);
            }
            let subject_key = format!("{key_prefix}:sub").to_lowercase();
            // An issuer that signs tokens for many subjects with one audience (every service
            // account of an EKS cluster; every repository on GitHub, GitLab or HCP Terraform)
            // lets them all in unless the subject is held: no `sub` is a wildcard of its own.
            let shared_issuer = key_prefix.starts_with("oidc.eks.")
                || [
                    "token.actions.githubusercontent.com",
                    "gitlab.com",
                    "app.terraform.io",
                ]
                .contains(&key_prefix);
            let holds_the_subject = self.normalized.condition.iter().any(|c| {
                !c.is_negated()
                    && c.key
                        .strip_prefix(&format!("{}:", key_prefix.to_lowercase()))
                        .is_some_and(|k| {
                            matches!(
                                k,
                                "sub"
                                    | "repository"
                                    | "repository_owner"
                                    | "repository_owner_id"
                                    | "project_path"
                                    | "namespace_path"
                                    | "terraform_organization_name"
                            )
                        })
            });
            if shared_issuer && !holds_the_subject {
                let message = format!(
                    "web-identity trust of {} has no {subject_key} condition, so every subject the issuer signs tokens for (every service account of the cluster, every repository) may assume the role",
                    provider.id
                );
                self.report(lints, WEB_IDENTITY_WILDCARD_SUBJECT, message);
            }
            for condition in self
                .normalized
                .condition
                .iter()
                .filter(|c| c.key == subject_key && !c.is_negated())
            {
                for value in condition
                    .values
                    .iter()
                    .filter(|value| pattern::has_wildcard(value))
                {
                    let message = format!("{subject_key} matches {value:?}, which admits every subject the wildcard covers");
                    self.report(lints, WEB_IDENTITY_WILDCARD_SUBJECT, message);
                }
            }
        }
    }

    fn check_accounts(&self, lints: &mut Vec<Lint>) {
        if matches!(self.statement.principal, Some(Clause::Not(_))) {
            return; // NotPrincipal lists whom the statement does not apply to
        }
        for principal in self.aws_principals() {
            let Some(account) = aws_account(&principal.id) else {
                continue;
            };
            // An account given by a plinth variable is resolved against the context later;
            // a CloudFront origin access identity has no account id.
            if pattern::find_open(account).is_some()
                || super::canon::is_cloudfront_oai(&principal.id)
                || self.ctx.known_accounts.iter().any(|known| known == account)
            {
                continue;
            }
            let message = format!(
                "principal {} is in account {account}, which is not a known account",
                principal.id
            );
            self.report(lints, UNKNOWN_ACCOUNT, message);
        }
    }

    fn check_arns(&self, lints: &mut Vec<Lint>) {
        if let Some(resource) = &self.statement.resource {
            for value in resource.value().iter().filter(|value| *value != "*") {
                if let Some(problem) = arn_problem(value) {
                    self.report(
                        lints,
                        MALFORMED_ARN,
                        format!("resource {value:?} {problem}"),
                    );
                }
            }
        }
        let listed = self.statement.listed_principals();
        for principal in listed {
            let checked = match principal.kind {
                PrincipalKind::Aws => {
                    principal.id != "*"
                        && !canon::is_account_id(&principal.id)
                        && !is_unique_id(&principal.id)
                }
                PrincipalKind::Federated => principal.id.starts_with("arn:"),
                PrincipalKind::Service | PrincipalKind::CanonicalUser => false,
            };
            if let Some(problem) = checked.then(|| arn_problem(&principal.id)).flatten() {
                self.report(
                    lints,
                    MALFORMED_ARN,
                    format!("principal {:?} {problem}", principal.id),
                );
            }
        }
    }

    fn check_policy_variables(&self, lints: &mut Vec<Lint>) {
        let resources = self.statement.resource.iter().flat_map(|r| r.value());
        let condition_values = self.statement.condition.iter().flat_map(|c| &c.values);
        if let Some(value) = resources
            .chain(condition_values)
            .find(|value| pattern::has_policy_variable(value))
        {
            let message = format!(
                "{value:?} uses a policy variable, which Version 2008-10-17 matches literally"
            );
            self.report(lints, LITERAL_POLICY_VARIABLE, message);
        }
    }

    /// AWS principals as written, whether in Principal or NotPrincipal.
    /// The statement KMS writes into every default key policy: the account's own root
    /// allowed `kms:*`, which delegates the key to the account's IAM policies (AWS's "Allows
    /// access to the AWS account and enables IAM policies"). Without it nobody but the key's
    /// creator could manage the key, so it is no finding.
    fn is_default_key_statement(&self) -> bool {
        let own_root = |p: &Principal| {
            p.kind == PrincipalKind::Aws
                && (canon::is_account_id(&p.id) || p.id.ends_with(":root"))
                && aws_account(&p.id).is_some_and(|account| {
                    account == "${aws.account_id}"
                        || self.ctx.own_account.as_deref() == Some(account)
                })
        };
        let principals = match &self.statement.principal {
            Some(Clause::Is(Principals::Listed(listed))) => listed,
            _ => return false,
        };
        self.ctx.kind == KEY_POLICY
            && self.statement.effect == Effect::Allow
            && matches!(&self.statement.action, Clause::Is(a) if a.len() == 1 && a[0].eq_ignore_ascii_case("kms:*"))
            && !principals.is_empty()
            && principals.iter().all(own_root)
    }

    fn aws_principals(&self) -> impl Iterator<Item = &Principal> {
        let listed = self.statement.listed_principals().iter();
        listed.filter(|p| p.kind == PrincipalKind::Aws && p.id != "*")
    }
}

/// The provider prefix of web-identity condition keys (`accounts.google.com:aud`,
/// `token.actions.githubusercontent.com:sub`), or `None` if the principal is not a
/// web-identity provider.
fn web_identity_key_prefix(federated: &str) -> Option<&str> {
    match federated {
        "accounts.google.com" | "cognito-identity.amazonaws.com" => Some(federated),
        arn => arn.split_once(":oidc-provider/").map(|(_, host)| host),
    }
}

/// Condition keys that pick out the resources an action may touch.
fn names_resources(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.starts_with("aws:requesttag/")
        || key.starts_with("aws:resourcetag/")
        || key.ends_with(":functionarn")
        || key.ends_with(":policyarn")
}

/// Can this action pattern name an action AWS classes as Write, Permissions management or
/// Tagging? Decided by the IAM catalog; a pattern it knows nothing of (an unknown service,
/// linted by P016) counts as write, the answer that asks for review.
fn is_write_action(action: &str) -> bool {
    // Every service (`*`, `*:Get*`) has write actions; no need to read them all.
    if action.split(':').next().is_some_and(pattern::has_wildcard) {
        return true;
    }
    let mut matched = super::catalog::catalog()
        .actions_matching(action)
        .peekable();
    if matched.peek().is_none() {
        return true;
    }
    matched.any(|(_, a)| a.level.is_write())
}

/// What is wrong with an ARN pattern, worded to follow the value in a message. Wildcards are
/// allowed anywhere and `${...}` variables count as wildcards.
/// Whether `value` begins with one of plinth's references (`${bucket.data.arn}`), whose value
/// is not known yet: IAM's own policy variables (`${aws:username}`) have a colon in their name.
fn begins_with_reference(value: &str) -> bool {
    value
        .strip_prefix("${")
        .and_then(|rest| rest.split_once('}'))
        .is_some_and(|(name, _)| !name.contains(':'))
}

fn arn_problem(value: &str) -> Option<String> {
    if value.contains('<') && value.contains('>') {
        return Some("looks like an unfilled placeholder".to_string());
    }
    let masked = pattern::mask_variables(value);
    // A value that is only a variable, such as `${role.app.arn}`, is checked once resolved;
    // so is one that begins with a reference of plinth's, such as `${bucket.data.arn}/*`.
    if pattern::is_universal(&masked) || begins_with_reference(value) {
        return None;
    }
    if super::canon::is_cloudfront_oai(value) {
        return None;
    }
    let Some(rest) = masked.strip_prefix("arn:") else {
        return Some("is not an ARN (arn:partition:service:region:account:resource)".to_string());
    };
    let fields: Vec<&str> = rest.splitn(5, ':').collect();
    let [partition, service, region, account, resource] = fields[..] else {
        return Some(
            "has fewer than six ARN fields (arn:partition:service:region:account:resource)"
                .to_string(),
        );
    };
    let is_name = |field: &str| {
        field
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-*?".contains(c))
    };
    let account_ok = account.is_empty()
        || account == "aws"
        || (account
            .chars()
            .all(|c| c.is_ascii_digit() || c == '*' || c == '?')
            && (account.len() == 12 || pattern::has_wildcard(account)));
    let bad_field = if partition.is_empty() || !is_name(partition) {
        Some(("partition", partition))
    } else if service.is_empty() || !is_name(service) {
        Some(("service", service))
    } else if !is_name(region) {
        Some(("region", region))
    } else if !account_ok {
        Some(("account", account))
    } else if resource.is_empty() {
        Some(("resource", resource))
    } else {
        None
    };
    bad_field.map(|(name, field)| format!("has an invalid {name} field {field:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: &str = "123456789012";

    /// The `(statement, code)` pairs linted for `statements` in a document of `kind`.
    fn check(kind: DocumentKind, statements: &str, expected: &[(&str, &str)]) {
        let doc = PolicyDocument::parse(&format!(
            r#"{{"Version": "2012-10-17", "Statement": [{statements}]}}"#
        ))
        .unwrap_or_else(|e| panic!("{statements}: {e}"));
        let ctx = LintContext {
            known_accounts: vec![OWN.to_string()],
            own_account: Some(OWN.to_string()),
            ..LintContext::new(kind)
        };
        let lints = lint(&doc, &ctx);
        let actual: Vec<(&str, &str)> = lints
            .iter()
            .map(|l| (l.statement.as_deref().unwrap_or("-"), l.code.as_str()))
            .collect();
        assert_eq!(actual, expected, "{statements}\n{lints:#?}");
        for lint in &lints {
            assert!(
                !lint.message.ends_with('.') && !lint.message.contains('\n'),
                "{lint:?}"
            );
            assert!(LINT_RULES
                .iter()
                .any(|rule| rule.code == lint.code && rule.severity == lint.severity));
        }
    }

    #[test]
    fn a_key_policy_statement_without_resource_is_said_to_grant_nothing() {
        let doc = PolicyDocument::parse(
            r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*"}]}"#,
        )
        .unwrap();
        let key = lint(
            &doc,
            &LintContext::new(DocumentKind::Resource("a KMS key policy")),
        );
        let missing = key
            .iter()
            .find(|l| l.code == LintCode::ElementMisfitsKind)
            .unwrap();
        assert!(
            missing.message.contains("ignores it, so it grants nothing"),
            "{}",
            missing.message
        );
        let queue = lint(
            &doc,
            &LintContext::new(DocumentKind::Resource("an SQS queue policy")),
        );
        let missing = queue
            .iter()
            .find(|l| l.code == LintCode::ElementMisfitsKind)
            .unwrap();
        assert_eq!(
            missing.message,
            "Resource is required in an SQS queue policy"
        );
    }

    /// An action that acts on none of a bucket policy's resources, or a condition key none of
    /// its actions supports: a warning in an identity policy, which IAM takes; an error in a
    /// bucket policy, which S3 refuses, and silencing it leaves the error.
    #[test]
    fn what_s3_refuses_in_a_bucket_policy_is_an_error_there_only() {
        let statement = |principal: &str| {
            format!(
                r#"{{"Version": "2012-10-17", "Statement": [{{"Sid": "S", "Effect": "Allow",{principal} "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b", "Condition": {{"StringLike": {{"s3:prefix": "home/*"}}}}}}]}}"#
            )
        };
        let identity = PolicyDocument::parse(&statement("")).unwrap();
        let bucket = PolicyDocument::parse(&statement(
            r#" "Principal": {"AWS": "arn:aws:iam::123456789012:root"},"#,
        ))
        .unwrap();
        let severities = |doc: &PolicyDocument, ctx: &LintContext| -> Vec<(LintCode, Severity)> {
            lint(doc, ctx)
                .into_iter()
                .filter(|l| {
                    matches!(
                        l.code,
                        LintCode::ActionResourceMismatch | LintCode::UnsupportedConditionKey
                    )
                })
                .map(|l| (l.code, l.severity))
                .collect()
        };
        let found = severities(&identity, &LintContext::new(IDENTITY));
        assert_eq!(
            found,
            [
                (LintCode::ActionResourceMismatch, Severity::Warning),
                (LintCode::UnsupportedConditionKey, Severity::Warning)
            ]
        );
        let silenced = LintContext {
            silenced: vec![
                (None, LintCode::ActionResourceMismatch),
                (None, LintCode::UnsupportedConditionKey),
            ],
            ..LintContext::new(BUCKET)
        };
        let found = severities(&bucket, &silenced);
        assert_eq!(
            found,
            [
                (LintCode::ActionResourceMismatch, Severity::Error),
                (LintCode::UnsupportedConditionKey, Severity::Error)
            ]
        );
        assert!(lint(&bucket, &silenced)
            .iter()
            .all(|l| l.severity != Severity::Error || l.refused_by_aws()));
        assert!(lint(
            &identity,
            &LintContext {
                silenced: vec![(None, LintCode::ActionResourceMismatch)],
                ..LintContext::new(IDENTITY)
            }
        )
        .iter()
        .all(|l| l.code != LintCode::ActionResourceMismatch));
    }

    const IDENTITY: DocumentKind = DocumentKind::Identity;
    const TRUST: DocumentKind = DocumentKind::Trust;
    const BUCKET: DocumentKind = DocumentKind::Resource("an S3 bucket policy");
    const KEY: DocumentKind = KEY_POLICY;

    #[test]
    #[rustfmt::skip]
    fn rules() {
        type Case = (DocumentKind, &'static str, &'static [(&'static str, &'static str)]);
        let cases: &[Case] = &[
            (IDENTITY, r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}"#, &[]),
            (IDENTITY, r#"{"Effect": "Allow", "Action": ["s3:Get*", "s3:*Object", "iam:PassRole"], "Resource": "*"}"#, &[("Statement[0]", "P001")]),
            (IDENTITY, r#"{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/*"}"#, &[]),
            (IDENTITY, r#"{"Effect": "Allow", "Action": "kms:CreateKey", "Resource": "*", "Condition": {"StringEquals": {"aws:RequestTag/team": "data"}}}"#, &[]),
            (IDENTITY, r#"{"Effect": "Allow", "Action": "kms:CreateKey", "Resource": "*", "Condition": {"StringEqualsIfExists": {"aws:RequestTag/team": "data"}}}"#, &[("Statement[0]", "P001")]),
            (IDENTITY, r#"{"Effect": "Allow", "Action": "kms:CreateKey", "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}"#, &[("Statement[0]", "P001")]),
            (BUCKET, r#"{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}"#, &[("Statement[0]", "P002")]),
            (BUCKET, r#"{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1"}}}"#, &[]),
            (BUCKET, r#"{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"}"#, &[]),
            (IDENTITY, r#"{"Sid": "All", "Effect": "Allow", "Action": ["*", "kms:*", "s3:Get*"], "Resource": "arn:aws:s3:::b"}"#, &[("All", "P018"), ("All", "P003"), ("All", "P003")]),
            (IDENTITY, r#"{"Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:aws:s3:::b"}"#, &[("Statement[0]", "P004")]),
            (IDENTITY, r#"{"Effect": "Deny", "NotAction": "iam:*", "Resource": "*"}"#, &[]),
            (TRUST, r#"{"Effect": "Allow", "Principal": {"Federated": "accounts.google.com"}, "Action": "sts:AssumeRoleWithWebIdentity"}"#, &[("Statement[0]", "P005")]),
            // An EKS cluster's issuer with an audience but no subject: every service account.
            (TRUST, r#"{"Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC"}, "Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringEquals": {"oidc.eks.us-east-1.amazonaws.com/id/ABC:aud": "sts.amazonaws.com"}}}"#, &[("Statement[0]", "P006")]),
            (TRUST, r#"{"Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC"}, "Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringEquals": {"oidc.eks.us-east-1.amazonaws.com/id/ABC:aud": "sts.amazonaws.com", "oidc.eks.us-east-1.amazonaws.com/id/ABC:sub": "system:serviceaccount:jobs:worker"}}}"#, &[]),
            (TRUST, r#"{"Effect": "Allow", "Principal": {"Federated": "accounts.google.com"}, "Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringEquals": {"accounts.google.com:aud": "1234"}}}"#, &[]),
            (TRUST, r#"{"Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"}, "Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringLike": {"cognito-identity.amazonaws.com:aud": "*"}}}"#, &[("Statement[0]", "P005")]),
            (TRUST, r#"{"Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"}, "Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}, "StringLike": {"token.actions.githubusercontent.com:sub": "repo:*"}}}"#, &[("Statement[0]", "P006")]),
            (TRUST, r#"{"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::123456789012:role/a", "210987654321", "arn:aws:iam::${account.partner}:root"]}, "Action": "sts:AssumeRole"}"#, &[("Statement[0]", "P007")]),
            (TRUST, r#"{"Effect": "Deny", "Principal": {"AWS": "210987654321"}, "Action": "sts:AssumeRole"}"#, &[]),
            (IDENTITY, r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": ["arn:aws:s3:::b", "arn:aws:sqs:*:${aws.account_id}:q", "arn:aws:logs:*:*:*", "arn:aws:iam::aws:policy/x", "<ARN to AWS KMS key>", "s3://b", "arn:aws:sqs:us-east-1:12345:q", "arn:aws:s3:::", "arn:aws:sqs:q"]}"#, &[("Statement[0]", "P008"), ("Statement[0]", "P008"), ("Statement[0]", "P008"), ("Statement[0]", "P008"), ("Statement[0]", "P008")]),
            (TRUST, r#"{"Effect": "Allow", "Principal": {"AWS": "role/app", "Federated": "arn:aws:iam::123456789012:saml-provider/x"}, "Action": "sts:AssumeRole"}"#, &[("Statement[0]", "P008")]),
            (IDENTITY, r#"{"Sid": "A", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}, {"Sid": "A", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}"#, &[("A", "P011")]),
            (TRUST, r#"{"Effect": "Allow", "Principal": {"AWS": "AROADBQP57FF2AEXAMPLE"}, "Action": "sts:AssumeRole"}"#, &[("Statement[0]", "P012")]),
            (IDENTITY, r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Condition": {"ForAllValues:StringEquals": {"aws:PrincipalTag/team": "data"}}}"#, &[("Statement[0]", "P028")]),
            (IDENTITY, r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Condition": {"ForAnyValue:StringEquals": {"aws:PrincipalTag/team": "data"}, "StringEquals": {"aws:PrincipalTag/env": "prod"}}}"#, &[]),
            (IDENTITY, r#"{"Effect": "Allow", "Action": "iam:TagRole", "Resource": "arn:aws:iam::123456789012:role/app-*", "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}}}"#, &[]),
            (IDENTITY, r#"{"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Condition": {"ForAllValues:StringNotEquals": {"aws:PrincipalTag/team": "data"}}}"#, &[]),
            (BUCKET, r#"{"Effect": "Allow", "Principal": {"CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}"#, &[("Statement[0]", "P027")]),
            (BUCKET, r#"{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity E2QWRUHEXAMPLE"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}"#, &[]),
            (IDENTITY, r#"{"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "s3:GetObject"}"#, &[("Statement[0]", "P013"), ("Statement[0]", "P013")]),
            (TRUST, r#"{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}"#, &[("Statement[0]", "P013"), ("Statement[0]", "P013")]),
            (BUCKET, r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}"#, &[("Statement[0]", "P013")]),
            // IAM's own grammar: NotPrincipal in a trust policy, a Sid beyond letters and digits.
            (TRUST, r#"{"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::123456789012:role/a"}, "Action": "sts:AssumeRole"}"#, &[("Statement[0]", "P014")]),
            (BUCKET, r#"{"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::123456789012:role/a"}, "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"}"#, &[]),
            (TRUST, r#"{"Sid": "Trust Lambda", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}"#, &[("Trust Lambda", "P015")]),
            (IDENTITY, r#"{"Sid": "read-data", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}"#, &[("read-data", "P015")]),
            (IDENTITY, r#"{"Sid": "ReadData2", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}"#, &[]),
            // The IAM catalog: names must exist, and fit together.
            (TRUST, r#"{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/a"}, "Action": "sts:AssumeRol"}"#, &[("Statement[0]", "P016")]),
            (IDENTITY, r#"{"Effect": "Allow", "Action": ["lamda:InvokeFunction", "S3:getobject"], "Resource": "arn:aws:s3:::b/*"}"#, &[("Statement[0]", "P016")]),
            (IDENTITY, r#"{"Effect": "Allow", "Action": ["s3:Gett*", "s3:Get*"], "Resource": "arn:aws:s3:::b/*"}"#, &[("Statement[0]", "P017")]),
            (IDENTITY, r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b"}"#, &[("Statement[0]", "P018")]),
            (IDENTITY, r#"{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]}"#, &[]),
            (IDENTITY, r#"{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b/*"}"#, &[("Statement[0]", "P018")]),
            (IDENTITY, r#"{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": ["arn:aws:s3:::b*", "arn:aws:s3:::*"]}"#, &[]),
            (IDENTITY, r#"{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:us-east-1:123456789012:q/x"}"#, &[("Statement[0]", "P018")]),
            (IDENTITY, r#"{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::123456789012:role/team/app"}"#, &[]),
            (IDENTITY, r#"{"Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "arn:aws:sqs:*:123456789012:q"}"#, &[("Statement[0]", "P018")]),
            (IDENTITY, r#"{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:*:${aws.account_id}:q"}"#, &[]),
            // A resource that begins with a reference of plinth's is checked once resolved; one
            // that begins with IAM's own variable is not an ARN.
            (IDENTITY, r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "${bucket.data.arn}/*"}"#, &[]),
            (IDENTITY, r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "${aws:username}/*"}"#, &[("Statement[0]", "P008")]),
            (IDENTITY, r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Condition": {"StringEquals": {"sqs:QueueName": "q"}}}"#, &[("Statement[0]", "P019")]),
            (IDENTITY, r#"{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b", "Condition": {"StringLike": {"s3:prefix": "home/*"}, "StringEquals": {"aws:SourceAcount": "123456789012"}}}"#, &[("Statement[0]", "P019")]),
            // A key of no service AWS knows, or with no prefix at all, is in no request.
            (IDENTITY, r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Condition": {"StringEquals": {"foo:bar": "x", "PrincipalTag/team": "data"}}}"#, &[("Statement[0]", "P019"), ("Statement[0]", "P019")]),
            (TRUST, r#"{"Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"}, "Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringEquals": {"oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE:sub": "system:serviceaccount:ns:sa", "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE:aud": "sts.amazonaws.com"}}}"#, &[]),
            (TRUST, r#"{"Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::123456789012:saml-provider/corp"}, "Action": "sts:AssumeRoleWithSAML", "Condition": {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}}}"#, &[]),
            (IDENTITY, r#"{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "arn:aws:kms:*:123456789012:key/*", "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com", "kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::b", "aws:PrincipalTag/team": "data"}}}"#, &[]),
            (IDENTITY, r#"{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b", "Condition": {"NumericLessThanEquals": {"s3:max-keys": "100"}, "Bool": {"aws:SecureTransport": "true"}, "IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}}"#, &[]),
            (IDENTITY, r#"{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b", "Condition": {"NumericLessThan": {"aws:SourceIp": "3"}, "DateGreaterThan": {"aws:SecureTransport": "2026-01-01"}}}"#, &[("Statement[0]", "P020"), ("Statement[0]", "P020")]),
            (IDENTITY, r#"{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b", "Condition": {"StringEquals": {"aws:SourceIp": "192.0.2.1"}}}"#, &[("Statement[0]", "P020")]),
            // aws:EpochTime is a date and a number; ARN operators compare string keys that
            // hold ARNs, as CloudWatch Logs' documented key policy does.
            (IDENTITY, r#"{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b", "Condition": {"NumericLessThan": {"aws:EpochTime": "1767225600"}, "DateGreaterThan": {"aws:EpochTime": "1735689600"}}}"#, &[]),
            (IDENTITY, r#"{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b", "Condition": {"NumericLessThan": {"aws:CurrentTime": "1767225600"}}}"#, &[("Statement[0]", "P020")]),
            (KEY, r#"{"Effect": "Allow", "Principal": {"Service": "logs.us-east-1.amazonaws.com"}, "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:GenerateDataKey*"], "Resource": "*", "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:us-east-1:123456789012:log-group:app"}}}"#, &[]),
            (TRUST, r#"{"Effect": "Allow", "Principal": {"Service": ["lamda.amazonaws.com", "lambda.amazonaws.com", "logs.eu-west-1.amazonaws.com"]}, "Action": "sts:AssumeRole"}"#, &[("Statement[0]", "P021")]),
            (TRUST, r#"{"Effect": "Allow", "Principal": {"Service": ["lambda.example.com", "lambda"]}, "Action": "sts:AssumeRole"}"#, &[("Statement[0]", "P021"), ("Statement[0]", "P021")]),
            // Services AWS documents whose principal is not their actions' prefix.
            (TRUST, r#"{"Effect": "Allow", "Principal": {"Service": ["pods.eks.amazonaws.com", "credentials.iot.amazonaws.com", "streams.metrics.cloudwatch.amazonaws.com", "airflow-env.amazonaws.com"]}, "Action": ["sts:AssumeRole", "sts:TagSession"]}"#, &[]),
            // A well-formed name plinth does not know is a warning; a near spelling of a known
            // one is still an error.
            (TRUST, r#"{"Effect": "Allow", "Principal": {"Service": "newservice.amazonaws.com"}, "Action": "sts:AssumeRole"}"#, &[("Statement[0]", "P026")]),
            (TRUST, r#"{"Effect": "Allow", "Principal": {"Service": "pod.eks.amazonaws.com"}, "Action": "sts:AssumeRole"}"#, &[("Statement[0]", "P021")]),
            (TRUST, r#"{"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::123456789012:tonic-lambda", "arn:aws:iam::123456789012:role/ok", "arn:aws:sts::123456789012:assumed-role/ok/s", "arn:aws:iam::123456789012:root", "arn:aws:s3:::bucket"]}, "Action": "sts:AssumeRole"}"#, &[("Statement[0]", "P022"), ("Statement[0]", "P022")]),
            // KMS's default statement, the account's root allowed kms:*, delegates the key
            // to IAM; another account's root so allowed controls the key.
            (KEY, r#"{"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"}"#, &[]),
            (KEY, r#"{"Effect": "Allow", "Principal": {"AWS": ["123456789012", "arn:${aws.partition}:iam::${aws.account_id}:root"]}, "Action": "kms:*", "Resource": "*"}"#, &[]),
            (KEY, r#"{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::210987654321:root"}, "Action": "kms:*", "Resource": "*"}"#, &[("Statement[0]", "P003"), ("Statement[0]", "P007")]),
            (KEY, r#"{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/admin"}, "Action": "kms:*", "Resource": "*"}"#, &[("Statement[0]", "P003")]),
            (IDENTITY, r#"{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}"#, &[("Statement[0]", "P001"), ("Statement[0]", "P003")]),
            // A CloudFront origin access identity, as S3's documentation writes it.
            (BUCKET, r#"{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity EH1HDMB1FH2TC"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}"#, &[]),
            (BUCKET, r#"{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}"#, &[("Statement[0]", "P007"), ("Statement[0]", "P008")]),
            (BUCKET, r#"{"Sid": "Allow access for S3", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}}}"#, &[]),
            // A federated principal is an identity provider's ARN, or one of four by name.
            (TRUST, r#"{"Effect": "Allow", "Principal": {"Federated": "token.actions.githubusercontent.com"}, "Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}}}"#, &[("Statement[0]", "P022")]),
            (TRUST, r#"{"Effect": "Allow", "Principal": {"Federated": ["accounts.google.com", "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com", "arn:aws:iam::123456789012:saml-provider/corp", "${oidc_provider.github.arn}"]}, "Action": ["sts:AssumeRoleWithWebIdentity", "sts:AssumeRoleWithSAML"], "Condition": {"StringEquals": {"accounts.google.com:aud": "a", "token.actions.githubusercontent.com:aud": "sts.amazonaws.com", "token.actions.githubusercontent.com:sub": "repo:org/app:ref:refs/heads/main"}}}"#, &[]),
            (TRUST, r#"{"Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::123456789012:role/idp"}, "Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringEquals": {"x.example.com:aud": "a"}}}"#, &[("Statement[0]", "P022")]),
            // A wildcard in a principal ARN matches nothing: IAM compares principals whole.
            (TRUST, r#"{"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::123456789012:role/app-*", "arn:aws:iam::123456789012:role/*"]}, "Action": "sts:AssumeRole"}"#, &[("Statement[0]", "P022"), ("Statement[0]", "P022")]),
            // IAM and STS ARNs name no region.
            (TRUST, r#"{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam:us-east-1:111122223333:role/x"}, "Action": "sts:AssumeRole"}"#, &[("Statement[0]", "P022"), ("Statement[0]", "P007")]),
            // A trust policy says who may assume the role, with STS's actions only.
            (TRUST, r#"{"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity", "sts:Assume*", "iam:PassRole", "sts:GetCallerIdentity"]}"#, &[("Statement[0]", "P023"), ("Statement[0]", "P023")]),
            (TRUST, r#"{"Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::123456789012:saml-provider/x"}, "Action": ["sts:AssumeRoleWithSAML", "sts:SetContext"], "Condition": {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}}}"#, &[]),
            (IDENTITY, r#"{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::123456789012:role/a"}"#, &[]),
            // A service whose catalog entry names a tag key `tag-key` takes any tag key there.
            (IDENTITY, r#"{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "arn:aws:secretsmanager:*:*:secret:*", "Condition": {"StringEquals": {"secretsmanager:ResourceTag/Team": "data"}}}"#, &[]),
            (IDENTITY, r#"{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "arn:aws:secretsmanager:*:*:secret:*", "Condition": {"StringEquals": {"secretsmanager:ResourceTags/Team": "data"}}}"#, &[("Statement[0]", "P019")]),
            // A value the operator cannot compare: the condition never holds.
            (IDENTITY, r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.300/8"}}}"#, &[("Statement[0]", "P025")]),
            (IDENTITY, r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Condition": {"DateGreaterThan": {"aws:CurrentTime": "yesterday"}}}"#, &[("Statement[0]", "P025")]),
            (IDENTITY, r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Condition": {"Bool": {"aws:SecureTransport": "yes"}}}"#, &[("Statement[0]", "P025")]),
            (IDENTITY, r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Condition": {"Null": {"aws:TokenIssueTime": "maybe"}}}"#, &[("Statement[0]", "P025")]),
            (IDENTITY, r#"{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b", "Condition": {"NumericLessThanEquals": {"s3:max-keys": "ten"}}}"#, &[("Statement[0]", "P025")]),
            (IDENTITY, r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Condition": {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32", "192.0.2.1"]}, "DateLessThan": {"aws:CurrentTime": ["2026-12-31T00:00:00Z", "1767139200"]}, "Bool": {"aws:SecureTransport": "True"}, "Null": {"aws:TokenIssueTime": "false"}}}"#, &[]),
            // IAM refuses a wildcard in the service prefix ("Vendor s* is not valid").
            (IDENTITY, r#"{"Effect": "Allow", "Action": ["s*:GetObject", "s3?:GetObject", "*:GetObject", "s3:Get*"], "Resource": "arn:aws:s3:::b/*"}"#, &[("Statement[0]", "P024"), ("Statement[0]", "P024"), ("Statement[0]", "P024")]),
        ];
        for (kind, statements, expected) in cases {
            check(*kind, statements, expected);
        }
    }

    #[test]
    fn version_lints_and_silencing() {
        let doc = PolicyDocument::parse(
            r#"{"Statement": [{"Sid": "Home", "Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/${aws:username}/*"}, {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]}"#,
        )
        .unwrap();
        let mut ctx = LintContext::new(DocumentKind::Identity);
        let codes = |ctx: &LintContext| {
            lint(&doc, ctx)
                .into_iter()
                .map(|l| (l.statement, l.code.as_str()))
                .collect::<Vec<_>>()
        };
        let home = || Some("Home".to_string());
        let second = || Some("Statement[1]".to_string());
        assert_eq!(
            codes(&ctx),
            [
                (None, "P009"),
                (home(), "P003"),
                (home(), "P010"),
                (second(), "P001"),
                (second(), "P003")
            ]
        );
        ctx.silenced = vec![
            (None, LintCode::LegacyVersion),
            (home(), LintCode::WildcardAction),
            (second(), LintCode::WriteOnAnyResource),
        ];
        assert_eq!(codes(&ctx), [(home(), "P010"), (second(), "P003")]);
    }

    #[test]
    fn rule_table_is_consistent() {
        for (index, rule) in LINT_RULES.iter().enumerate() {
            assert_eq!(rule.code.as_str(), format!("P{:03}", index + 1));
            assert_eq!(LintCode::parse(rule.code.as_str()), Some(rule.code));
            assert!(!rule.summary.ends_with('.'));
        }
    }

    /// A key of no service, or with no prefix, is named with the key it most likely means.
    #[test]
    fn condition_keys_of_no_service() {
        let message = |key: &str| {
            let doc = PolicyDocument::parse(&format!(
                r#"{{"Version": "2012-10-17", "Statement": {{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b", "Condition": {{"StringEquals": {{"{key}": "x"}}}}}}}}"#
            ))
            .unwrap();
            let lints = lint(&doc, &LintContext::new(DocumentKind::Identity));
            assert_eq!(lints.len(), 1, "{key}: {lints:#?}");
            assert_eq!(lints[0].code.as_str(), "P019");
            lints[0].message.clone()
        };
        assert!(message("PrincipalTag/team").ends_with("did you mean aws:PrincipalTag/team?"));
        assert!(message("s4:prefix")
            .contains("names no AWS service (s4), so no request has it; did you mean s3:?"));
        assert!(message("foo:bar").contains("names no AWS service (foo)"));
    }

    #[test]
    fn messages() {
        let doc = PolicyDocument::parse(
            r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Principal": {"Federated": "accounts.google.com"}, "Action": "sts:AssumeRoleWithWebIdentity"}}"#,
        )
        .unwrap();
        let lints = lint(&doc, &LintContext::new(DocumentKind::Trust));
        insta::assert_snapshot!(serde_json::to_string_pretty(&lints).unwrap(), @r#"
        [
          {
            "code": "P005",
            "severity": "error",
            "statement": "Statement[0]",
            "message": "web-identity trust of accounts.google.com has no accounts.google.com:aud condition, so tokens issued to any application are accepted"
          }
        ]
        "#);
    }
}
