//! The rows of each kind's table of its attributes that are more than a setting compared and
//! changed in place: those other resources may reference, those AWS cannot change without
//! replacing the resource, and those AWS never returns. Each kind's table is `ATTRIBUTES` in
//! its file in `kinds/`. The planner, the loader's reference checks and import read these
//! tables; an attribute a table does not list is compared, changed in place and not exported.
//! A policy document's row also says what kind of document it is (what the lints require of
//! it) and the most of it AWS accepts (what the loader checks).

use super::Kind;
use crate::policy::DocumentKind;

/// What plinth knows of one attribute of a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute {
    pub name: &'static str,
    /// Other resources may reference it as `${KIND.NAME.ATTR}`.
    pub exported: bool,
    /// Known before the resource exists (computed from its name, like most ARNs), not
    /// assigned by AWS when it is created.
    pub known_before_creation: bool,
    /// AWS cannot change it in place: a change replaces the resource.
    pub forces_replacement: bool,
    /// AWS never returns it (where a function's code comes from): apply needs it, the planner
    /// never compares it.
    pub write_only: bool,
    /// A policy document (or, for a role's `policies`, a table of them by name).
    pub policy: Option<PolicyColumn>,
}

/// What a policy document attribute holds, and the most of it AWS accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyColumn {
    pub document: DocumentKind,
    pub limit: SizeLimit,
}

/// AWS's size limit of a policy document, in characters with white space left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeLimit {
    /// Each document: at most this many.
    Each(usize),
    /// Each document: a default quota, which the account may have raised up to `max`.
    Raisable { default: usize, max: usize },
    /// All of one resource's documents under this attribute together.
    Together(usize),
}

impl Attribute {
    pub(super) const fn setting(name: &'static str) -> Attribute {
        Attribute {
            name,
            exported: false,
            known_before_creation: true,
            forces_replacement: false,
            write_only: false,
            policy: None,
        }
    }

    /// A policy document (or a table of them) of a kind of document, within a size limit.
    pub(super) const fn policy(
        name: &'static str,
        document: DocumentKind,
        limit: SizeLimit,
    ) -> Attribute {
        Attribute {
            policy: Some(PolicyColumn { document, limit }),
            ..Attribute::setting(name)
        }
    }

    /// Exported, and known before creation.
    pub(super) const fn export(name: &'static str) -> Attribute {
        Attribute {
            exported: true,
            ..Attribute::setting(name)
        }
    }

    /// Exported, and assigned by AWS when the resource is created.
    pub(super) const fn assigned(name: &'static str) -> Attribute {
        Attribute {
            known_before_creation: false,
            ..Attribute::export(name)
        }
    }

    pub(super) const fn replaces(self) -> Attribute {
        Attribute {
            forces_replacement: true,
            ..self
        }
    }

    pub(super) const fn write_only(name: &'static str) -> Attribute {
        Attribute {
            write_only: true,
            ..Attribute::setting(name)
        }
    }
}

impl Kind {
    fn attribute(self, name: &str) -> Option<&'static Attribute> {
        self.attributes().iter().find(|a| a.name == name)
    }

    /// The attributes other resources may reference as `${KIND.NAME.ATTR}`.
    pub fn exported_attributes(self) -> Vec<&'static str> {
        (self.attributes().iter())
            .filter(|a| a.exported)
            .map(|a| a.name)
            .collect()
    }

    /// Whether an exported attribute is known before the resource exists (computed from its
    /// name, like most ARNs) rather than assigned by AWS when it is created.
    pub fn known_before_creation(self, attribute: &str) -> bool {
        self.attribute(attribute)
            .is_none_or(|a| a.known_before_creation)
    }

    /// Attributes AWS cannot change in place: a change replaces the resource.
    pub fn forces_replacement(self, attribute: &str) -> bool {
        self.attribute(attribute)
            .is_some_and(|a| a.forces_replacement)
    }

    /// Attributes AWS never returns: apply needs them, the planner never compares them.
    pub fn write_only(self, attribute: &str) -> bool {
        self.attribute(attribute).is_some_and(|a| a.write_only)
    }

    /// The policy document a kind holds under `attribute` (`policies` for each of a role's
    /// inline policies): what kind of document it is and the most of it AWS accepts.
    pub fn policy_document(self, attribute: &str) -> Option<PolicyColumn> {
        self.attribute(attribute).and_then(|a| a.policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_exports_its_arn_and_names_each_attribute_once() {
        for kind in Kind::ALL {
            let names: Vec<&str> = kind.attributes().iter().map(|a| a.name).collect();
            assert!(kind.exported_attributes().contains(&"arn"), "{kind}");
            for (i, name) in names.iter().enumerate() {
                assert!(!names[..i].contains(name), "{kind}.{name} twice");
            }
            for a in kind.attributes() {
                assert!(
                    !(a.write_only && (a.exported || a.forces_replacement)),
                    "{kind}.{}",
                    a.name
                );
            }
        }
    }

    #[test]
    fn the_tables_answer_as_the_planner_asks() {
        assert!(Kind::Role.forces_replacement("path"));
        assert!(!Kind::Role.forces_replacement("trust"));
        assert!(Kind::Function.write_only("code_path"));
        assert!(!Kind::Role.known_before_creation("unique_id"));
        assert!(Kind::Role.known_before_creation("arn"));
        assert!(!Kind::Key.known_before_creation("arn"));
        assert_eq!(
            Kind::Queue.exported_attributes(),
            ["arn", "url", "name", "visibility_timeout", "kms_key"]
        );
    }
}
