//! The ground floor: the data plinth reads from AWS and keeps about a stack, shared by the
//! adapters that produce it, the planner that reads it and the views that show it. It imports
//! nothing above `model`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::model::{Address, ArnScope, Attributes, Kind, ADDRESS_TAG, STACK_TAG};

/// The account, region and identity a plan is made for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub account_id: String,
    pub region: String,
    pub partition: String,
    /// The ARN of the identity plinth runs as.
    pub caller_arn: String,
    /// The ARN of the caller's role, path included, when the caller is an assumed role and
    /// the plan needed it (`iam:GetRole`): a session's ARN names its role without the path,
    /// and IAM Identity Center's roles, among others, live under one
    /// (`role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_role_arn: Option<String>,
}

impl Account {
    /// The caller as a principal a policy can name: an assumed role's session
    /// (`arn:aws:sts::ID:assumed-role/NAME/SESSION`) is its role: the one read with its path
    /// (`caller_role_arn`), or else `arn:aws:iam::ID:role/NAME`. A user reported under `sts`
    /// is under `iam`; a federated user's session stays as it is.
    pub fn caller_principal(&self) -> String {
        let parts: Vec<&str> = self.caller_arn.splitn(6, ':').collect();
        let [_, partition, "sts", _, account, resource] = parts.as_slice() else {
            return self.caller_arn.clone();
        };
        if resource.starts_with("federated-user/") {
            return self.caller_arn.clone();
        }
        match self.assumed_role_name() {
            Some(role) => self.caller_role_arn.clone().unwrap_or_else(|| {
                let at = ArnScope {
                    partition,
                    region: "",
                    account_id: account,
                };
                Kind::Role.arn(at, &format!("/{role}"))
            }),
            None => format!("arn:{partition}:iam::{account}:{resource}"),
        }
    }

    /// The name of the caller's role, when the caller is an assumed role's session.
    pub fn assumed_role_name(&self) -> Option<&str> {
        // arn:PARTITION:sts::ACCOUNT:assumed-role/NAME/SESSION
        let mut fields = self.caller_arn.splitn(6, ':');
        if fields.nth(2)? != "sts" {
            return None;
        }
        let resource = fields.nth(2)?;
        resource.strip_prefix("assumed-role/")?.split('/').next()
    }

    /// The ARN of the resource of `kind` with `id` in this account and region
    /// ([`Kind::arn`]).
    pub fn arn(&self, kind: Kind, id: &str) -> String {
        let at = ArnScope {
            partition: &self.partition,
            region: &self.region,
            account_id: &self.account_id,
        };
        kind.arn(at, id)
    }

    /// Stands in for the account's id and partition before `GetCallerIdentity` answers: a name
    /// that contains it needs the real account.
    pub const UNKNOWN: &'static str = "{unknown account}";

    pub fn unknown(region: &str) -> Account {
        Account {
            account_id: Self::UNKNOWN.into(),
            region: region.into(),
            partition: Self::UNKNOWN.into(),
            caller_arn: String::new(),
            caller_role_arn: None,
        }
    }
}

/// Everything the planner needs from AWS, read up front so that planning is a pure function.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LiveSnapshot {
    pub account: Option<Account>,
    /// What exists under the physical names the spec declares, keyed by spec address,
    /// whoever owns it. A resource with no name of its own (a KMS key) that its name does not
    /// find is the one the stack tagged with its address.
    #[serde(deserialize_with = "map_read_whole")]
    pub by_address: BTreeMap<Address, LiveResource>,
    /// Every resource tagged as owned by the stack, wherever it is in the spec (or not). Those
    /// found by name are also in `by_address`.
    pub owned: Vec<LiveResource>,
    /// The stack's index as read, when the read used one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<StackIndex>,
}

/// A map read whole, then built at once: a snapshot writes its keys in order, and building
/// from them sorted takes no search per key, where inserting them one by one searches the
/// tree for each. A key written twice keeps its last value, as inserting does.
fn map_read_whole<'de, D, K, V>(d: D) -> Result<BTreeMap<K, V>, D::Error>
where
    D: serde::Deserializer<'de>,
    K: Ord + Deserialize<'de>,
    V: Deserialize<'de>,
{
    struct Entries<K, V>(std::marker::PhantomData<(K, V)>);
    impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> serde::de::Visitor<'de> for Entries<K, V> {
        type Value = Vec<(K, V)>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a map")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(4096));
            while let Some(entry) = map.next_entry()? {
                entries.push(entry);
            }
            Ok(entries)
        }
    }
    Ok(d.deserialize_map(Entries(std::marker::PhantomData))?
        .into_iter()
        .collect())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveResource {
    pub kind: Kind,
    /// The name AWS knows the resource by (a role name, a queue name, a key id).
    pub physical_id: String,
    /// The `plinth:stack` tag, if any.
    pub owner: Option<String>,
    /// The `plinth:address` tag, if any.
    pub address_tag: Option<Address>,
    /// Shared with the plan's change for this resource (its `live`), which is not a copy.
    pub attributes: std::sync::Arc<Attributes>,
    /// Values other resources may reference (`arn`, `unique_id`, ...).
    pub exports: BTreeMap<String, String>,
    /// When AWS deletes the resource, if it is already scheduled for deletion (a KMS key in its
    /// waiting period): it is not deleted again, and declaring it again recovers it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_date: Option<String>,
}

impl LiveResource {
    pub fn is_owned_by(&self, stack: &str) -> bool {
        self.owner.as_deref() == Some(stack)
    }

    /// Owned by `stack`, or shared with it: `stack` has recorded parts it manages on it.
    pub fn is_held_by(&self, stack: &str) -> bool {
        self.is_owned_by(stack)
            || crate::model::shared::share_of(
                self.attributes.get(crate::model::shared::SHARES_ATTRIBUTE),
                stack,
            )
            .is_some()
    }

    /// Someone else's resource whose policy holds statements a stack recorded as its own. Found
    /// with its block gone, it is released: its policy is read, for the plan to show the access
    /// those statements granted going away.
    pub fn holds_shared_statements(&self, stack: &str) -> bool {
        !self.is_owned_by(stack)
            && crate::model::shared::recorded_documents(&self.attributes).contains("policy")
    }

    pub fn is_pending_deletion(&self) -> bool {
        self.deletion_date.is_some()
    }
}

/// What the spec wants read for one resource: its physical name, and the attributes it
/// declares (some cost extra calls, made only when declared).
#[derive(Debug, Clone)]
pub struct ReadRequest {
    pub address: Address,
    pub physical_id: String,
    pub declared: BTreeSet<String>,
}

/// How many reads run at once.
pub const READ_CONCURRENCY: usize = 16;

/// The export of a resource made to replace another that does not go by name (a KMS key): the
/// replaced one's id, read from the new one's tags. A replacement that stopped before deleting
/// the replaced resource leaves both tagged with one address, and this tells which to delete.
pub const REPLACED_EXPORT: &str = "replaces";

/// AWS's own tags (`aws:cloudformation:stack-name` on what CloudFormation made): no caller
/// may set or remove them, and a spec may not declare them, so they are neither the user's
/// nor plinth's.
pub fn is_system_tag(key: &str) -> bool {
    key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:"))
}

/// Splits AWS tags into plinth's ownership tags and the user's own; AWS's own tags
/// ([`is_system_tag`]) are neither, and are left out.
pub fn split_tags(
    tags: impl IntoIterator<Item = (String, String)>,
) -> (Option<String>, Option<Address>, BTreeMap<String, String>) {
    let mut owner = None;
    let mut address = None;
    let mut user = BTreeMap::new();
    for (k, v) in tags {
        match k.as_str() {
            STACK_TAG => owner = Some(v),
            ADDRESS_TAG => address = Address::try_from(v).ok(),
            key if is_system_tag(key) => {}
            _ => {
                user.insert(k, v);
            }
        }
    }
    (owner, address, user)
}

/// The version of the index's format; an index of another version is not used.
pub const INDEX_VERSION: u32 = 1;

/// The stack index (`workflow::index` keeps it up to date): which resources a stack owns, kept in S3 next to the stack's lock, so a
/// plan reads them by name instead of listing every resource of the account.
///
/// Tags stay the truth: a resource in the index counts as the stack's only when its
/// `plinth:stack` tag says so, and one that is gone is simply not found. The index only has to
/// name every resource the stack owns (a superset is harmless), so every apply writes it twice,
/// both times under the stack lock: before its first step, adding the names it is about to
/// create, and after its last, dropping what it deleted and adding the ids AWS assigned (a KMS
/// key's). A key has no name to write before it exists: the first write names each key the
/// apply is about to create (`keys_in_flight`), and the second drops those it created. An apply
/// stopped between a `CreateKey` and the second write leaves a key the index does not name, and
/// its address in flight: while any is, a plan also lists the account's keys, and so finds that
/// key by its tags, to keep, take over or delete as the spec says. When the index is missing, unreadable or not this stack's, a plan lists the
/// account as it does for a stack without a lock; when the second write fails, the apply
/// deletes the index, so that the next plan lists the account instead of trusting it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackIndex {
    pub version: u32,
    pub stack: String,
    /// Each kind's physical ids: names, ARNs for managed policies and OIDC providers, key ids.
    pub resources: BTreeMap<Kind, BTreeSet<String>>,
    /// Keys an apply set out to create and did not record as created (by address).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub keys_in_flight: BTreeSet<String>,
}

impl StackIndex {
    pub fn new(stack: &str) -> StackIndex {
        StackIndex {
            version: INDEX_VERSION,
            stack: stack.to_string(),
            resources: BTreeMap::new(),
            keys_in_flight: BTreeSet::new(),
        }
    }

    /// The resources the live read found owned by the stack (in the spec or not, pending
    /// deletion or not).
    pub fn of_owned(stack: &str, owned: &[LiveResource]) -> StackIndex {
        let mut index = StackIndex::new(stack);
        for found in owned.iter().filter(|o| o.is_held_by(stack)) {
            index.insert(found.kind, &found.physical_id);
        }
        index
    }

    pub fn insert(&mut self, kind: Kind, id: &str) {
        self.resources
            .entry(kind)
            .or_default()
            .insert(id.to_string());
    }

    pub fn remove(&mut self, kind: Kind, id: &str) {
        if let Some(ids) = self.resources.get_mut(&kind) {
            ids.remove(id);
        }
    }

    pub fn entries(&self) -> impl Iterator<Item = (Kind, &str)> {
        self.resources
            .iter()
            .flat_map(|(kind, ids)| ids.iter().map(move |id| (*kind, id.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(caller_arn: &str, caller_role_arn: Option<&str>) -> Account {
        Account {
            account_id: "123456789012".into(),
            region: "us-east-1".into(),
            partition: "aws".into(),
            caller_arn: caller_arn.into(),
            caller_role_arn: caller_role_arn.map(String::from),
        }
    }

    #[test]
    fn the_caller_is_named_as_a_policy_can_name_it() {
        let session =
            "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_1a2b/me@example.com";
        let sso = "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_1a2b";
        let cases = [
            // The role as read, with its path.
            (session, Some(sso), sso),
            // Not read: the role as the session names it.
            (
                session,
                None,
                "arn:aws:iam::123456789012:role/AWSReservedSSO_Admin_1a2b",
            ),
            (
                "arn:aws:sts::123456789012:user/ci",
                None,
                "arn:aws:iam::123456789012:user/ci",
            ),
            (
                "arn:aws:sts::123456789012:federated-user/bob",
                None,
                "arn:aws:sts::123456789012:federated-user/bob",
            ),
            (
                "arn:aws:iam::123456789012:user/ci",
                None,
                "arn:aws:iam::123456789012:user/ci",
            ),
        ];
        for (caller, role, principal) in cases {
            assert_eq!(
                account(caller, role).caller_principal(),
                principal,
                "{caller}"
            );
        }
        assert_eq!(
            account(session, None).assumed_role_name(),
            Some("AWSReservedSSO_Admin_1a2b")
        );
        assert_eq!(
            account("arn:aws:iam::123456789012:user/ci", None).assumed_role_name(),
            None
        );
    }

    /// A snapshot's resources are built into their map at once: keys in any order come out
    /// sorted as the addresses sort, and a key written twice keeps its last value, as
    /// inserting them one by one would.
    #[test]
    fn a_snapshots_resources_read_as_inserting_them_would() {
        let resource = |id: &str| {
            format!(
                r#"{{"kind":"queue","physical_id":"{id}","owner":null,"address_tag":null,"attributes":{{}},"exports":{{}}}}"#
            )
        };
        let text = format!(
            r#"{{"account":null,"owned":[],"by_address":{{"queue.b":{},"role.z":{},"queue.a":{},"queue.b":{}}}}}"#,
            resource("first-b"),
            resource("z"),
            resource("a"),
            resource("second-b"),
        );
        let snapshot: LiveSnapshot = serde_json::from_str(&text).unwrap();
        let read: Vec<(String, &str)> = snapshot
            .by_address
            .iter()
            .map(|(a, r)| (a.to_string(), r.physical_id.as_str()))
            .collect();
        // Roles sort before queues (the plan's order of kinds).
        assert_eq!(
            read,
            [
                ("role.z".to_string(), "z"),
                ("queue.a".to_string(), "a"),
                ("queue.b".to_string(), "second-b"),
            ]
        );
        let refused = serde_json::from_str::<LiveSnapshot>(
            r#"{"account":null,"owned":[],"by_address":{"nokind":{}}}"#,
        );
        assert!(refused
            .unwrap_err()
            .to_string()
            .contains("is not KIND.NAME"));
    }
}
