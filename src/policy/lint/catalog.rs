//! Lints that check a statement against the IAM catalog: the names it uses must exist, and
//! its actions, resources, condition keys and operators must fit together.

use super::*;
use crate::policy::catalog::{catalog, is_service_principal_shape, Catalog, KeyType};

impl StatementChecker<'_> {
    pub(super) fn check_against_catalog(&self, lints: &mut Vec<Lint>) {
        let catalog = catalog();
        self.check_action_names(catalog, lints);
        self.check_action_resources(catalog, lints);
        self.check_condition_keys(catalog, lints);
        self.check_principals(catalog, lints);
    }

    /// Unknown prefixes and actions are named with the nearest known spelling; a wildcard
    /// that matches no action of a known service is a typo too.
    fn check_action_names(&self, catalog: &Catalog, lints: &mut Vec<Lint>) {
        for action in self.statement.action.value() {
            let Some((prefix, name)) = action.split_once(':') else {
                continue; // "*"
            };
            if pattern::find_open(action).is_some() {
                continue;
            }
            if pattern::has_wildcard(prefix) {
                let message = format!("action {action:?} has a wildcard in its service prefix, which IAM refuses (\"Vendor {prefix} is not valid\"); name the service, as in s3:{name}, or list each service's actions");
                self.report(lints, WILDCARD_SERVICE_PREFIX, message);
                continue;
            }
            if !catalog.is_service_prefix(prefix) {
                let hint = match catalog.suggest_prefix(prefix) {
                    Some(known) => format!("; did you mean {known}:{name}?"),
                    None => String::new(),
                };
                let message = format!("action {action:?} names service prefix {prefix:?}, which no AWS service has{hint}");
                self.report(lints, UNKNOWN_ACTION, message);
                continue;
            }
            if catalog.actions_matching(action).next().is_some() {
                continue;
            }
            if pattern::has_wildcard(name) {
                let message = format!("action {action:?} matches no {prefix} action");
                self.report(lints, WILDCARD_MATCHES_NOTHING, message);
            } else {
                let hint = match catalog.suggest_action(action) {
                    Some(known) => format!("; did you mean {known}?"),
                    None => String::new(),
                };
                let message = format!("action {action:?} is not an action of {prefix}{hint}");
                self.report(lints, UNKNOWN_ACTION, message);
            }
        }
    }

    /// An action acts on the resource types the catalog lists for it (or, without any, only
    /// on Resource "*"); if none can match a listed resource, the statement grants nothing
    /// for that action.
    fn check_action_resources(&self, catalog: &Catalog, lints: &mut Vec<Lint>) {
        let (Clause::Is(actions), Some(Clause::Is(resources))) =
            (&self.statement.action, &self.statement.resource)
        else {
            return;
        };
        // A malformed resource is P008's; one that is only a reference is not known yet.
        if resources.iter().any(|r| arn_problem(r).is_some()) {
            return;
        }
        let resources: Vec<String> = resources
            .iter()
            .map(|r| pattern::mask_variables(r))
            .collect();
        if resources.iter().any(|r| pattern::is_universal(r)) {
            return;
        }
        for action in actions {
            if action == "*" || pattern::find_open(action).is_some() {
                continue;
            }
            let mut matched = catalog.actions_matching(action).peekable();
            if matched.peek().is_none() {
                continue; // unknown: P016 or P017
            }
            // The ARN formats of the resource types the matched actions act on; actions
            // without any take only Resource "*".
            let mut wanted: Vec<&str> = Vec::new();
            let fits = matched.any(|(service, a)| {
                service.resource_types_of(a).any(|t| {
                    if !wanted.contains(&t.arn.as_str()) {
                        wanted.push(&t.arn);
                    }
                    resources.iter().any(|r| t.admits(r))
                })
            });
            if !fits {
                let takes = if wanted.is_empty() {
                    "takes only Resource \"*\"".to_string()
                } else {
                    let mut shown: Vec<&str> = wanted.iter().take(3).copied().collect();
                    if wanted.len() > 3 {
                        shown.push("...");
                    }
                    format!("acts on {}", shown.join(", "))
                };
                let message = format!(
                    "action {action:?} {takes}, which none of the statement's resources can match"
                );
                self.report(lints, ACTION_RESOURCE_MISMATCH, message);
            }
        }
    }

    fn check_condition_keys(&self, catalog: &Catalog, lints: &mut Vec<Lint>) {
        for written in &self.statement.condition {
            if let Some((value, problem)) = written.values.iter().find_map(|v| {
                crate::policy::condition::value_problem(&written.operator, v).map(|p| (v, p))
            }) {
                let message = format!(
                    "{} value {value:?} of {:?} {problem}: the condition never holds",
                    written.operator, written.key
                );
                self.report(lints, CONDITION_VALUE_MISFITS, message);
            }
            let key = written.key.to_lowercase();
            if pattern::find_open(&key).is_some() {
                continue;
            }
            let Some((prefix, _)) = key.split_once(':') else {
                let global = format!("aws:{key}");
                let hint = if catalog.global_key(&global).is_some() {
                    format!("; did you mean aws:{}?", written.key)
                } else {
                    did_you_mean(catalog.suggest_global_key(&global), "")
                };
                let message = format!(
                    "condition key {:?} has no prefix: a key is aws:NAME or SERVICE:NAME, so no request has it{hint}",
                    written.key
                );
                self.report(lints, UNSUPPORTED_CONDITION_KEY, message);
                continue;
            };
            // A web identity's keys start with its issuer (`accounts.google.com:aud`,
            // `oidc.eks.REGION.amazonaws.com/id/ID:sub`), a SAML provider's with `saml`.
            let issuer = prefix.contains(['.', '/']) || prefix == "saml";
            if !issuer && prefix != "aws" && !catalog.is_service_prefix(prefix) {
                let hint = did_you_mean(catalog.suggest_prefix(prefix), ":");
                let message = format!(
                    "condition key {:?} names no AWS service ({prefix}), so no request has it{hint}",
                    written.key
                );
                self.report(lints, UNSUPPORTED_CONDITION_KEY, message);
                continue;
            }
            if prefix == "aws" {
                if catalog.global_key(&key).is_none() {
                    let hint = did_you_mean(catalog.suggest_global_key(&key), "");
                    let message =
                        format!("condition key {:?} is not a global key{hint}", written.key);
                    self.report(lints, UNSUPPORTED_CONDITION_KEY, message);
                    continue;
                }
            } else if catalog.is_service_prefix(prefix) && !self.some_action_supports(catalog, &key)
            {
                let message = format!(
                    "condition key {:?} is supported by none of the statement's actions, so the condition never holds for them",
                    written.key
                );
                self.report(lints, UNSUPPORTED_CONDITION_KEY, message);
                continue;
            }
            if let Some(kind) = catalog.key_type(&key) {
                if let Some(fits) = operator_fits(written.base_operator(), kind) {
                    if !fits {
                        let message = format!(
                            "operator {} does not fit {:?}, whose value is {}",
                            written.operator,
                            written.key,
                            kind.describe()
                        );
                        self.report(lints, OPERATOR_TYPE_MISMATCH, message);
                    }
                }
            }
            let for_all = written.operator.starts_with("ForAllValues:");
            if for_all
                && self.statement.effect == Effect::Allow
                && catalog.key_is_multivalued(&key) == Some(false)
            {
                let message = format!(
                    "{} on {:?}, which holds one value: ForAllValues also holds for a request without the key, so this Allow admits requests that lack it; write {} without ForAllValues",
                    written.operator,
                    written.key,
                    written.operator.trim_start_matches("ForAllValues:")
                );
                self.report(lints, FOR_ALL_VALUES_ON_SINGLE_VALUE, message);
            }
        }
    }

    /// True when the statement's actions are unknown or negated (nothing to decide), or one
    /// of them supports the key.
    fn some_action_supports(&self, catalog: &Catalog, key: &str) -> bool {
        let Clause::Is(actions) = &self.statement.action else {
            return true;
        };
        let mut any_known = false;
        for action in actions {
            if action == "*" || pattern::find_open(action).is_some() {
                return true;
            }
            let mut matched = catalog.actions_matching(action).peekable();
            any_known |= matched.peek().is_some();
            if matched.any(|(service, a)| service.supports_key(a, key)) {
                return true;
            }
        }
        !any_known
    }

    fn check_principals(&self, catalog: &Catalog, lints: &mut Vec<Lint>) {
        for principal in self.statement.listed_principals() {
            if pattern::find_open(&principal.id).is_some() {
                continue;
            }
            match principal.kind {
                PrincipalKind::Service if !catalog.is_service_principal(&principal.id) => {
                    // A misspelling of a known principal, or no service principal's shape, is
                    // an error; a well-formed name plinth's list lacks may be a service it
                    // has not heard of (the list is assembled from AWS's documentation).
                    let misspelt = catalog.misspelt_service_principal(&principal.id);
                    if misspelt.is_some() || !is_service_principal_shape(&principal.id) {
                        let hint = match misspelt
                            .or_else(|| catalog.suggest_service_principal(&principal.id))
                        {
                            Some(known) => format!("; did you mean {known}?"),
                            None => "; a service principal is SERVICE.amazonaws.com".to_string(),
                        };
                        let message = format!(
                            "service principal {:?} is not an AWS service{hint}",
                            principal.id
                        );
                        self.report(lints, UNKNOWN_SERVICE_PRINCIPAL, message);
                    } else {
                        let message = format!(
                            "service principal {:?} is not one plinth knows; AWS refuses a \
                             policy that names a service principal it does not know, so check \
                             the spelling in the service's documentation",
                            principal.id
                        );
                        self.report(lints, UNLISTED_SERVICE_PRINCIPAL, message);
                    }
                }
                PrincipalKind::Federated => {
                    if let Some(problem) = federated_problem(&principal.id) {
                        let message = format!("federated principal {:?} {problem}", principal.id);
                        self.report(lints, INVALID_PRINCIPAL_ARN, message);
                    }
                }
                // A malformed ARN is P008's; this is about well-formed ARNs of other things.
                PrincipalKind::Aws
                    if principal.id.starts_with("arn:") && arn_problem(&principal.id).is_none() =>
                {
                    if let Some(problem) = principal_arn_problem(&principal.id) {
                        let message = format!("principal {:?} {problem}", principal.id);
                        self.report(lints, INVALID_PRINCIPAL_ARN, message);
                    }
                }
                _ => {}
            }
        }
    }
}

/// Whether an operator (without set prefix or `IfExists`) fits a key's type; `None` when any
/// key may be tested (`Null`). String operators also fit ARNs, which are strings.
fn operator_fits(operator: &str, kind: KeyType) -> Option<bool> {
    let wanted: &[KeyType] = if operator.starts_with("String") {
        &[KeyType::String, KeyType::Arn]
    } else if operator.starts_with("Numeric") {
        &[KeyType::Numeric, KeyType::DateOrNumeric]
    } else if operator.starts_with("Date") {
        &[KeyType::Date, KeyType::DateOrNumeric]
    } else if operator == "Bool" {
        &[KeyType::Bool]
    } else if operator.ends_with("IpAddress") {
        &[KeyType::Ip]
    } else if operator.starts_with("Arn") {
        // AWS's own documentation compares string keys that hold ARNs with ARN operators
        // (CloudWatch Logs' key policy: ArnEquals on kms:EncryptionContext:aws:logs:arn).
        &[KeyType::Arn, KeyType::String]
    } else if operator == "BinaryEquals" {
        &[KeyType::Binary]
    } else {
        return None;
    };
    Some(wanted.contains(&kind))
}

/// What keeps a `Federated` principal from naming an identity provider: IAM takes the ARN of
/// an OIDC or SAML provider in IAM, or one of the four providers it knows by name (the IAM
/// User Guide, "AWS JSON policy elements: Principal", federated users), and refuses any other
/// ("Invalid principal in policy").
fn federated_problem(id: &str) -> Option<String> {
    const BY_NAME: &[&str] = &[
        "cognito-identity.amazonaws.com",
        "www.amazon.com",
        "accounts.google.com",
        "graph.facebook.com",
    ];
    if BY_NAME.contains(&id) || id.starts_with("arn:") && arn_problem(id).is_some() {
        return None; // a malformed ARN is P008's
    }
    match id.strip_prefix("arn:") {
        Some(rest) => {
            let fields: Vec<&str> = rest.splitn(5, ':').collect();
            let provider = matches!(fields[..], [_, "iam", "", _, resource]
                if resource.starts_with("oidc-provider/") || resource.starts_with("saml-provider/"));
            (!provider).then(|| {
                "is not an identity provider's ARN (arn:aws:iam::ACCOUNT:oidc-provider/HOST or saml-provider/NAME)".to_string()
            })
        }
        None => Some(format!(
            "is not an identity provider IAM knows by name ({}); name an OIDC provider by its ARN: arn:aws:iam::ACCOUNT:oidc-provider/{id}",
            BY_NAME.join(", ")
        )),
    }
}

/// What keeps a well-formed ARN from naming an IAM principal: only IAM's root, roles, users
/// and federated users, and STS's assumed roles and federated users can be principals.
fn principal_arn_problem(arn: &str) -> Option<String> {
    let fields: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, _, service, region, _, resource] = fields[..] else {
        return None;
    };
    if matches!(service, "iam" | "sts") && !region.is_empty() {
        return Some(format!(
            "names a region ({region}), which IAM and STS principal ARNs do not have (arn:aws:iam::ACCOUNT:role/NAME)"
        ));
    }
    let resource = pattern::mask_variables(resource);
    let allowed: &[&str] = match service {
        "iam" => &["role/", "user/", "federated-user/"],
        "sts" => &["assumed-role/", "federated-user/"],
        _ => {
            return Some(format!(
                "is a {service} ARN; an AWS principal is an account, or an IAM role or user ARN"
            ))
        }
    };
    if (service == "iam" && resource == "root") || pattern::is_universal(&resource) {
        return None;
    }
    if pattern::has_wildcard(&resource) {
        return Some("holds a wildcard, which IAM does not match against principals (it compares a principal ARN whole); write \"AWS\": \"*\" or the account's root, with a condition such as ArnLike on aws:PrincipalArn".to_string());
    }
    if allowed.iter().any(|prefix| {
        resource
            .strip_prefix(prefix)
            .is_some_and(|rest| !rest.is_empty())
    }) {
        return None;
    }
    let expected = if service == "iam" {
        "root, role/NAME, user/NAME or federated-user/NAME"
    } else {
        "assumed-role/ROLE/SESSION or federated-user/NAME"
    };
    Some(format!(
        "is not a principal: after the account an {service} principal ARN has {expected}"
    ))
}

/// `; did you mean KNOWN{after}?` for a message's end, or nothing.
fn did_you_mean(known: Option<&str>, after: &str) -> String {
    known.map_or(String::new(), |known| {
        format!("; did you mean {known}{after}?")
    })
}
