//! What AWS accepts: names, paths and limits, checked before anything is sent.
//!
//! Values that still hold references (other than variables, which are known) are checked once
//! they are resolved, at plan time.

use std::collections::BTreeMap;

use super::{Resource, ResourceBody, Text, Var};
use crate::diag::{Diagnostic, Diagnostics};
use crate::model::STACK_TAG;

pub fn stack_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err(format!("stack name `{name}` must be 1 to 64 characters"));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(format!("stack name `{name}` may hold only letters, digits, `-` and `_`"));
    }
    Ok(())
}

pub fn logical_name(name: &str) -> Result<(), String> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(format!("`{name}` is not a valid logical name"));
    }
    Ok(())
}

/// IAM role (and user, policy, instance profile) names: `[\w+=,.@-]{1,64}`.
pub fn iam_name(name: &str, max: usize) -> Result<(), String> {
    if name.is_empty() || name.chars().count() > max {
        return Err(format!("`{name}` is {} characters; IAM allows 1 to {max}", name.chars().count()));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || "_+=,.@-".contains(*c))) {
        return Err(format!("`{name}` contains `{c}`, which IAM does not allow in a name"));
    }
    Ok(())
}

/// IAM paths: `/` or `/segment/.../`, printable ASCII, at most 512 characters.
pub fn iam_path(path: &str) -> Result<(), String> {
    if path.len() > 512 {
        return Err("an IAM path is at most 512 characters".into());
    }
    if !path.starts_with('/') || !path.ends_with('/') {
        return Err(format!("IAM path `{path}` must begin and end with `/`"));
    }
    if path.contains("//") {
        return Err(format!("IAM path `{path}` has an empty segment"));
    }
    if let Some(c) = path.chars().find(|c| !('\u{21}'..='\u{7e}').contains(c)) {
        return Err(format!("IAM path `{path}` contains {c:?}; only printable ASCII without spaces is allowed"));
    }
    Ok(())
}

pub fn tag_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.chars().count() > 128 {
        return Err(format!("tag key `{key}` must be 1 to 128 characters"));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(format!("tag key `{key}` uses the reserved `aws:` prefix"));
    }
    if key == STACK_TAG {
        return Err(format!("tag key `{STACK_TAG}` is set by plinth itself"));
    }
    if let Some(c) = key.chars().find(|c| !(c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(*c))) {
        return Err(format!("tag key `{key}` contains `{c}`, which AWS does not allow"));
    }
    Ok(())
}

pub fn tag_value(value: &str) -> Result<(), String> {
    if value.chars().count() > 256 {
        return Err("a tag value is at most 256 characters".into());
    }
    Ok(())
}

/// Substitutes variables, the only references known before AWS is read. `None` when the text
/// still depends on AWS or another resource.
fn with_vars(text: &Text, vars: &BTreeMap<String, Var>) -> Option<String> {
    if text.is_broken() {
        return None;
    }
    super::template::render(&text.pieces, |r| match r {
        super::template::Reference::Var(n) => vars.get(n).map(|v| v.value.clone()),
        _ => None,
    })
}

pub fn check_resource(resource: &Resource, vars: &BTreeMap<String, Var>, diags: &mut Diagnostics) {
    let mut check = |text: &Text, rule: &dyn Fn(&str) -> Result<(), String>, hint: &str| {
        if let Some(value) = with_vars(text, vars) {
            if let Err(message) = rule(&value) {
                diags.push(Diagnostic::error("spec::invalid-value", message).at_location(Some(text.location.clone())).hint(hint));
            }
        }
    };
    match &resource.body {
        ResourceBody::Role(role) => {
            check(&role.name, &|v| iam_name(v, 64), "role names are letters, digits and `_+=,.@-`, at most 64 characters");
            if let Some(path) = &role.path {
                check(path, &iam_path, "write a path like `/` or `/tonic/`");
            }
            if let Some(d) = &role.description {
                check(d, &|v| {
                    if v.chars().count() > 1000 {
                        Err("a role description is at most 1000 characters".into())
                    } else {
                        Ok(())
                    }
                }, "shorten the description");
            }
            for value in role.tags.iter().flat_map(|t| t.values()) {
                check(value, &tag_value, "shorten the tag value");
            }
            if let Some((hours, location)) = &role.max_session_hours {
                if !(1..=12).contains(hours) {
                    diags.push(
                        Diagnostic::error("spec::invalid-value", format!("max_session_hours is {hours}; IAM allows 1 to 12"))
                            .at_location(Some(location.clone()))
                            .hint("set a whole number of hours from 1 to 12"),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_names() {
        assert!(iam_name("tonic-lambda-role", 64).is_ok());
        assert!(iam_name("a+b=c,d.e@f_g", 64).is_ok());
        assert!(iam_name(&"x".repeat(64), 64).is_ok());
        assert!(iam_name(&"x".repeat(65), 64).unwrap_err().contains("65 characters"));
        assert!(iam_name("has space", 64).unwrap_err().contains("` `"));
        assert!(iam_name("", 64).is_err());
    }

    #[test]
    fn iam_paths() {
        assert!(iam_path("/").is_ok());
        assert!(iam_path("/tonic/workers/").is_ok());
        assert!(iam_path("tonic/").is_err());
        assert!(iam_path("/tonic").is_err());
        assert!(iam_path("/a//b/").is_err());
        assert!(iam_path("/a b/").is_err());
    }

    #[test]
    fn tag_keys() {
        assert!(tag_key("team").is_ok());
        assert!(tag_key("aws:foo").is_err());
        assert!(tag_key(STACK_TAG).is_err());
        assert!(tag_key("a*b").is_err());
    }
}
