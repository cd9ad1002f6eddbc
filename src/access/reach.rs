//! What a grant reaches: the stack resources a Resource pattern names, resource policies'
//! rows, the grants passed on through assumed roles, and rows merged.

use super::*;

/// The rows a Resource pattern stands for: one per stack resource it names (with the part
/// beyond the resource's ARN, such as a bucket's `/*`), and the pattern itself when it may
/// name things outside the stack. An exact ARN is looked up; a wildcard is matched against
/// the resources whose ARN starts with its literal beginning. Each row comes with its label,
/// the ARN (pattern) it stands for, and the stack resource.
pub(super) fn targets<'s, 'a>(
    stack: &'s Stack<'a>,
    resource_pattern: &str,
    actions: &[String],
) -> Vec<(String, String, Option<&'s Node<'a>>)> {
    let mut out = Vec::new();
    if !pattern::has_wildcard(resource_pattern) {
        if let Some(node) = stack.node_by_arn(resource_pattern) {
            out.push((node.address.clone(), node.arn.clone(), Some(node)));
        } else if let Some((bucket, key)) = resource_pattern
            .strip_prefix("arn:")
            .and_then(|rest| rest.split_once(":s3:::"))
            .and_then(|(partition, rest)| {
                rest.split_once('/')
                    .map(|(b, k)| (bucket_arn(partition, b), k))
            })
        {
            if let Some(node) = stack.node_by_arn(&bucket) {
                out.push((
                    format!("{}/{key}", node.address),
                    resource_pattern.to_string(),
                    Some(node),
                ));
            }
        }
        if out.is_empty() {
            out.push((
                resource_pattern.to_string(),
                resource_pattern.to_string(),
                None,
            ));
        }
        return out;
    }
    let literal = &resource_pattern[..resource_pattern
        .find(['*', '?'])
        .unwrap_or(resource_pattern.len())];
    for node in candidates(stack, actions) {
        if !node.arn.starts_with(literal) && !literal.starts_with(node.arn.as_str()) {
            continue;
        }
        // A pattern that names a bucket may name its objects too (`arn:aws:s3:::tonic-*`
        // is both): each is a row, and each keeps the actions that act on it.
        let objects = (node.kind == Kind::Bucket)
            .then(|| format!("{}/*", node.arn))
            .filter(|objects| pattern::overlaps(resource_pattern, objects));
        if pattern::matches(resource_pattern, &node.arn)
            || pattern::overlaps(resource_pattern, &node.arn) && node.arn.ends_with('*')
        {
            out.push((node.address.clone(), node.arn.clone(), Some(node)));
        }
        if let Some(objects) = objects {
            out.push((format!("{}/*", node.address), objects, Some(node)));
        }
    }
    // The pattern names more than the stack's resources, unless it is exactly one of them
    // (`arn:aws:s3:::BUCKET/*` is the bucket's objects, already a row).
    if !out.iter().any(|(_, arn, _)| arn == resource_pattern) {
        out.push((
            resource_pattern.to_string(),
            resource_pattern.to_string(),
            None,
        ));
    }
    out
}

/// The nodes a statement's actions may act on: those of the actions' services (STS's act on
/// IAM's roles), in the stack's order; every node when an action's service is a wildcard.
/// Only actions of a resource's own service are kept on its row, so the others could only
/// give empty rows.
fn candidates<'s, 'a>(stack: &'s Stack<'a>, actions: &[String]) -> Vec<&'s Node<'a>> {
    let mut services: Vec<String> = Vec::new();
    for action in actions {
        let prefix = action
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if action.starts_with('*') || pattern::has_wildcard(&prefix) || !action.contains(':') {
            return stack.nodes.iter().collect();
        }
        if prefix == "sts" {
            services.push("iam".to_string());
        }
        services.push(prefix);
    }
    services.sort();
    services.dedup();
    let mut indices: Vec<usize> = services
        .iter()
        .filter_map(|service| stack.by_service.get(service.as_str()))
        .flatten()
        .copied()
        .collect();
    indices.sort_unstable();
    indices.iter().map(|&i| &stack.nodes[i]).collect()
}

/// The resource's own policy on a same-account identity grant reaching `target` (the
/// resource, or a bucket's objects): its Denies apply; a KMS key must allow the role itself
/// or delegate to the account, and so must a role's trust policy for `sts:AssumeRole` and its
/// kin (a role no trust statement lets in cannot be assumed, whatever the caller's identity
/// policy says), and only what both allow is left (`kms:*` in the identity policy and
/// `kms:Decrypt` in the key policy is `kms:Decrypt`).
pub(super) fn resource_side(
    stack: &Stack,
    node: &Node,
    target: &str,
    role_arn: &str,
    actions: Vec<String>,
) -> Denied {
    let (field, service) = match node.kind {
        Kind::Key => ("policy", "kms:"),
        Kind::Role => ("trust", "sts:"),
        _ => ("policy", ""),
    };
    let Some(doc) = stack.policy(node, field) else {
        // No policy in the spec or live: a key keeps KMS's default, which delegates to IAM.
        return Denied::all(actions);
    };
    let denied = apply_denies(
        &denies(doc),
        Some(stack.caller(role_arn)),
        Some(target),
        actions,
    );
    if service.is_empty() {
        return denied;
    }
    // The role itself, or the account's root (or id): the delegation to IAM policies.
    let allowed: Vec<Statement> = allows(doc)
        .into_iter()
        .filter(|s| match &s.principal {
            Some(Clause::Is(Principals::Everyone)) => true,
            Some(Clause::Is(Principals::Listed(listed))) => listed
                .iter()
                .any(|p| p.kind == PrincipalKind::Aws && names_principal(&p.id, role_arn)),
            _ => false,
        })
        .collect();
    let allowed: Vec<&Statement> = allowed.iter().collect();
    denied.then(|actions| {
        // The resource's policy decides only its own service's actions.
        let (own, others): (Vec<String>, Vec<String>) = actions
            .into_iter()
            .partition(|a| a.starts_with(service) || a.starts_with('*'));
        let mut left = intersect(own, &allowed);
        left.actions.extend(others);
        left
    })
}

pub(super) fn resource_policy_rows(stack: &Stack, node: &Node, rows: &mut Vec<Grant>) {
    let Some(doc) = stack.policy(node, "policy") else {
        return;
    };
    let denies = denies(doc);
    let own_root = format!("arn:aws:iam::{}:root", stack.account_id);
    // S3's Block Public Access: with RestrictPublicBuckets, a public bucket policy lets in
    // only AWS services and the bucket owner's account.
    let restricted = node.kind == Kind::Bucket
        && matches!(
            node.attributes.get("public_access_block"),
            Some(Value::Map(m)) if m.get("restrict_public_buckets") == Some(&Value::Bool(true))
        );
    for statement in allows(doc) {
        // An Allow with NotPrincipal lets in everyone but those it names, anonymous callers
        // included: a row for everyone, with the exception among its conditions.
        let (listed, except): (Vec<(PrincipalKind, String)>, Option<String>) =
            match &statement.principal {
                Some(Clause::Is(Principals::Everyone)) => {
                    (vec![(PrincipalKind::Aws, "*".to_string())], None)
                }
                Some(Clause::Is(Principals::Listed(listed))) => (
                    listed.iter().map(|p| (p.kind, p.id.clone())).collect(),
                    None,
                ),
                Some(Clause::Not(Principals::Listed(listed))) => {
                    let ids: Vec<&str> = listed.iter().map(|p| p.id.as_str()).collect();
                    let except = format!("NotPrincipal {}", ids.join(", "));
                    (vec![(PrincipalKind::Aws, "*".to_string())], Some(except))
                }
                _ => continue,
            };
        // A bucket policy's statement may name the bucket, its objects, or both: a row for each,
        // with the actions that act on it. A statement whose Resource leaves the resource out
        // (another queue's ARN, a NotResource naming this one) grants nothing on it.
        let objects = format!("{}/", node.arn);
        let mut places: Vec<(String, String)> = match &statement.resource {
            Some(Clause::Is(patterns)) if node.kind == Kind::Bucket => patterns
                .iter()
                .flat_map(|p| {
                    if let Some(rest) = p.strip_prefix(&objects) {
                        return vec![(format!("{}/{rest}", node.address), p.clone())];
                    }
                    // `*` or `arn:aws:s3:::data*`: the bucket, and its objects too.
                    let mut places = Vec::new();
                    if pattern::overlaps(p, &node.arn) {
                        places.push((node.address.clone(), node.arn.clone()));
                    }
                    if pattern::overlaps(p, &format!("{objects}*")) {
                        places.push((format!("{}/*", node.address), format!("{objects}*")));
                    }
                    places
                })
                .collect(),
            _ if !super::reaches(&statement, &node.arn) => continue,
            _ => vec![(node.address.clone(), node.arn.clone())],
        };
        places.sort();
        places.dedup();
        let catalog = crate::policy::catalog::catalog();
        for (kind, id) in listed {
            // The account's root delegates to IAM policies: those rows come from the roles.
            if kind == PrincipalKind::Aws
                && (id == own_root
                    || id.ends_with(":root") && account_of(&id) == Some(stack.account_id.as_str()))
            {
                continue;
            }
            for (label, target) in &places {
                let mut denied = apply_denies(
                    &denies,
                    Some(stack.caller(&id)),
                    Some(target),
                    statement_actions(&statement),
                );
                // Only actions that can act on the place: a queue's or a key's, a bucket's
                // or its objects'.
                denied.actions.retain(|a| catalog.acts_on(a, target));
                // An explicit Deny in a stack role's own policies wins over this Allow.
                let mut denied = denied.then(|a| callers_denials(stack, &id, target, a));
                if denied.actions.is_empty() {
                    continue;
                }
                denied.unless.extend(except.clone());
                if restricted && kind == PrincipalKind::Aws && id == "*" {
                    let mut conditions = statement.condition.clone();
                    conditions.extend(denied.negated.iter().cloned());
                    let class = classify(stack, &id, kind, true, &conditions, &denied.actions);
                    if class == Risk::Public {
                        let own = Condition {
                            operator: "StringEquals".to_string(),
                            key: "aws:PrincipalAccount".to_string(),
                            values: vec![stack.account_id.clone()],
                        };
                        denied.unless.push(format!(
                            "{} (restrict_public_buckets)",
                            condition_text(&own)
                        ));
                        denied.negated.push(own);
                    }
                }
                push_row(
                    stack,
                    rows,
                    &statement,
                    (kind, &id),
                    true,
                    denied,
                    (label.clone(), target.clone()),
                    format!("{} policy", node.address),
                );
            }
        }
    }
}

/// Whoever may assume a role also holds that role's rows. Services trusted by a role act
/// inside the account as the role, whose own rows already say what it can do, so only other
/// principals get rows of their own; an assumption that leads to escalation is escalation.
pub(super) fn through_assumed_roles(stack: &Stack, rows: Vec<Grant>) -> Vec<Grant> {
    let roles: crate::hash::FastSet<&str> = stack
        .nodes
        .iter()
        .filter(|n| n.kind == Kind::Role)
        .map(|n| n.address.as_str())
        .collect();
    // A direct row to assume one of the stack's roles: from the role's trust policy, or from
    // the caller's identity policy where the trust policy delegates to the account (its root).
    let assumes = |g: &Grant| {
        g.via.len() == 1
            && roles.contains(g.resource.as_str())
            && g.actions
                .iter()
                .any(|a| pattern::overlaps(a, "sts:assumerole*"))
    };
    // One way in per principal and role: a trust that names the principal, else the
    // principal's own policy where the trust delegates to the account (both may hold, and
    // would give every row through the role twice).
    let by_trust: BTreeSet<(&str, &str)> = rows
        .iter()
        .filter(|g| assumes(g) && g.via[0].ends_with(" trust"))
        .map(|g| (g.principal.as_str(), g.resource.as_str()))
        .collect();
    let second_way_in = |g: &Grant| {
        assumes(g)
            && !g.via[0].ends_with(" trust")
            && by_trust.contains(&(g.principal.as_str(), g.resource.as_str()))
    };
    let mut held_by: BTreeMap<&str, Vec<&Grant>> = BTreeMap::new();
    for row in rows.iter().filter(|g| !second_way_in(g)) {
        held_by.entry(row.principal.as_str()).or_default().push(row);
    }
    let mut derived_rows = Vec::new();
    let mut frontier: Vec<Grant> = rows
        .iter()
        .filter(|g| assumes(g) && !second_way_in(g))
        .cloned()
        .collect();
    // Role chaining has no limit: as many hops as the stack has roles (a hop never returns
    // to a role its path went through).
    for _depth in 0..roles.len() {
        let mut next = Vec::new();
        for assume in &frontier {
            if is_service(&assume.principal) {
                continue;
            }
            for &held in held_by.get(assume.resource.as_str()).into_iter().flatten() {
                if held.principal == assume.principal || assume.via.contains(&held.via[0]) {
                    continue;
                }
                // The role's trust is on the way in either case: it names the principal, or
                // delegates to the account whose policy let the principal in.
                let mut via = assume.via.clone();
                let trust = format!("{} trust", assume.resource);
                if via.last() != Some(&trust) {
                    via.push(trust);
                }
                via.extend(held.via.iter().cloned());
                let mut conditions = assume.conditions.clone();
                conditions.extend(held.conditions.iter().cloned());
                let derived = Grant {
                    risk: assume.risk.min(held.risk).min(
                        if matches!(assume.risk, Risk::Public | Risk::External) {
                            assume.risk
                        } else {
                            held.risk
                        },
                    ),
                    principal: assume.principal.clone(),
                    actions: held.actions.clone(),
                    resource: held.resource.clone(),
                    target: held.target.clone(),
                    conditions,
                    via,
                    conditional: assume.conditional || held.conditional,
                };
                if assumes(held) {
                    // The principal may become the role `held` assumes: its rows come next,
                    // under the conditions of every hop so far (this one's trust's too).
                    next.push(Grant {
                        via: derived.via.clone(),
                        resource: held.resource.clone(),
                        target: held.target.clone(),
                        conditions: derived.conditions.clone(),
                        conditional: derived.conditional,
                        ..assume.clone()
                    });
                }
                derived_rows.push(derived);
            }
        }
        if next.is_empty() {
            break;
        }
        frontier = next;
    }
    drop(held_by);
    let mut out = rows;
    out.extend(derived_rows);
    // Assuming a role that can escalate is escalation.
    let escalating: BTreeSet<String> = out
        .iter()
        .filter(|g| {
            g.risk == Risk::Escalation
                && roles.contains(g.principal.as_str())
                && !g.actions.iter().all(|a| a.starts_with("sts:assumerole"))
        })
        .map(|g| g.principal.clone())
        .collect();
    for grant in &mut out {
        if assumes(grant) && escalating.contains(&grant.resource) && grant.risk > Risk::Escalation {
            grant.risk = Risk::Escalation;
        }
    }
    out
}

/// Rows that differ only in their actions become one row.
pub(super) fn merge(mut rows: Vec<Grant>) -> Vec<Grant> {
    fn key(g: &Grant) -> (&str, &str, &[String], &[String]) {
        (&g.principal, &g.resource, &g.conditions, &g.via)
    }
    rows.sort_by(|a, b| key(a).cmp(&key(b)));
    let mut merged: Vec<Grant> = Vec::with_capacity(rows.len());
    for row in rows {
        match merged.last_mut() {
            Some(existing) if key(existing) == key(&row) => {
                existing.actions.extend(row.actions);
                existing.risk = existing.risk.min(row.risk);
                existing.conditional |= row.conditional;
            }
            _ => merged.push(row),
        }
    }
    for grant in &mut merged {
        grant.actions.sort();
        grant.actions.dedup();
    }
    merged
}

/// A bucket's ARN in `partition`.
fn bucket_arn(partition: &str, bucket: &str) -> String {
    let at = ArnScope {
        partition,
        region: "",
        account_id: "",
    };
    Kind::Bucket.arn(at, bucket)
}

/// A service principal (`lambda.amazonaws.com`): one that assumes a role acts inside the
/// account, and what it does there is the role's own rows. The web identities IAM knows by a
/// name of the same shape (Amazon Cognito's `cognito-identity.amazonaws.com`, Login with
/// Amazon's `www.amazon.com`) are other parties: what the role may do is theirs too.
fn is_service(principal: &str) -> bool {
    crate::policy::catalog::is_service_principal_shape(principal)
        && !matches!(
            principal,
            "cognito-identity.amazonaws.com" | "www.amazon.com"
        )
}
