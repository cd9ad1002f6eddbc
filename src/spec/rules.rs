//! What AWS accepts: names, paths and limits, checked before anything is sent.
//!
//! Values that still hold references (other than variables, which are known) are checked once
//! they are resolved, at plan time.

use std::collections::BTreeMap;

use super::template::{reference_text, AwsFact, Reference};
use super::{Text, Var};
use crate::diag::{Code, Diagnostic, Diagnostics, Location};
const PLINTH_TAG_PREFIX: &str = "plinth:";

/// The characters a kind of name may hold, written as a regular-expression character class
/// (ranges such as `a-z` and single characters, a `-` last): the name checks test each
/// character against it, and `plinth schema` builds the pattern it gives editors from it, so
/// the two cannot disagree.
#[derive(Debug, Clone, Copy)]
pub struct Charset(pub &'static str);

/// Letters, digits, `-` and `_`: stack names, logical names, Lambda functions, SQS queues.
pub const NAME_CHARS: Charset = Charset("A-Za-z0-9_-");
/// IAM names of roles, policies and instance profiles.
pub const IAM_NAME_CHARS: Charset = Charset("A-Za-z0-9_+=,.@-");
/// A segment of an IAM path: ASCII from `!` to DEL (U+007F), as IAM's pattern says, other
/// than `/`.
pub const IAM_PATH_SEGMENT_CHARS: Charset = Charset("!-.0-\u{7f}");
/// A segment of a managed policy's path, which CreatePolicy holds to a narrower pattern than
/// a role's (`((/[A-Za-z0-9\.,\+@=_-]+)*)/`).
pub const POLICY_PATH_SEGMENT_CHARS: Charset = Charset("A-Za-z0-9.,+@=_-");
pub const ROLE_NAME_MAX: usize = 64;
pub const IAM_NAME_MAX: usize = 128;
pub const STACK_NAME_MAX: usize = 64;

/// A `${...}` reference in a JSON Schema pattern.
const REFERENCE_PATTERN: &str = r"\$\{[^}]*\}";

impl Charset {
    pub fn allows(self, c: char) -> bool {
        // Asked for every character of every name and ARN a spec holds: no allocation.
        self.ranges()
            .any(|(first, last)| (first..=last).contains(&c))
    }

    /// The set's members as ranges, as a regular expression's class reads them: `a-z` is a
    /// range, a `-` first or last is itself, every other character a range of one.
    fn ranges(self) -> impl Iterator<Item = (char, char)> {
        let mut class = self.0.chars();
        std::iter::from_fn(move || {
            let first = class.next()?;
            let mut ahead = class.clone();
            if let (Some('-'), Some(last)) = (ahead.next(), ahead.next()) {
                class = ahead;
                Some((first, last))
            } else {
                Some((first, first))
            }
        })
    }

    /// The first character of `text` outside the set. The set's ASCII characters are read once
    /// into a mask, where [`Charset::allows`] reads the set for each character (asked of every
    /// name and ARN of a large spec, at load and again at plan).
    pub fn first_outside(self, text: &str) -> Option<char> {
        let ascii = self.ascii_mask();
        text.chars().find(|&c| match u32::from(c) {
            code @ 0..=127 => ascii & (1 << code) == 0,
            _ => !self.allows(c),
        })
    }

    /// The set's ASCII characters, bit `c` for character `c`.
    fn ascii_mask(self) -> u128 {
        (self.ranges())
            .flat_map(|(first, last)| first..=last.min('\u{7f}'))
            .fold(0, |mask, c| mask | 1 << u32::from(c))
    }

    /// `[...]{min,max}`: `min` to `max` characters of the set, as part of a pattern.
    pub fn repeat(self, min: usize, max: usize) -> String {
        format!("[{}]{{{min},{max}}}", self.0)
    }

    /// A whole value of `min` to `max` characters of the set, and nothing else.
    pub fn literal_pattern(self, min: usize, max: usize) -> String {
        format!("^{}$", self.repeat(min, max))
    }

    /// A value `literal` matches, or a value holding `${...}` references between characters of
    /// the set: what the reference stands for is checked once it is resolved.
    pub fn pattern_with_references(self, literal: &str) -> String {
        self.pattern_with_references_and(literal, "")
    }

    /// [`Self::pattern_with_references`], where the characters around a reference may also be
    /// `extra`, which the literal pattern takes outside the set (a queue's `.fifo`, a path's
    /// `/`): a value with a reference is never held to less than a literal value.
    pub fn pattern_with_references_and(self, literal: &str, extra: &str) -> String {
        // `extra` first: after the set's trailing `-`, a character would make a range.
        let piece = format!("(?:[{extra}{}]|{REFERENCE_PATTERN})", self.0);
        format!("^(?:{literal}|{piece}*{REFERENCE_PATTERN}{piece}*)$")
    }

    /// [`Self::pattern_with_references`] for `min` to `max` characters of the set.
    pub fn pattern(self, min: usize, max: usize) -> String {
        self.pattern_with_references(&self.repeat(min, max))
    }
}

/// The JSON Schema pattern of an IAM path: `/` or `/a/b/`, or a value with references.
pub fn iam_path_pattern() -> String {
    IAM_PATH_SEGMENT_CHARS
        .pattern_with_references_and(&format!("/(?:[{}]+/)*", IAM_PATH_SEGMENT_CHARS.0), "/")
}

/// The JSON Schema pattern of a managed policy's path.
pub fn policy_path_pattern() -> String {
    POLICY_PATH_SEGMENT_CHARS
        .pattern_with_references_and(&format!("/(?:[{}]+/)*", POLICY_PATH_SEGMENT_CHARS.0), "/")
}

pub fn stack_name_pattern() -> String {
    // `${var.NAME}` too: each environment names its own stack.
    NAME_CHARS.pattern(1, STACK_NAME_MAX)
}

pub fn logical_name_pattern() -> String {
    format!("^[{}]+$", NAME_CHARS.0)
}

pub fn stack_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > STACK_NAME_MAX {
        return Err(format!(
            "stack name `{name}` must be 1 to {STACK_NAME_MAX} characters"
        ));
    }
    if NAME_CHARS.first_outside(name).is_some() {
        return Err(format!(
            "stack name `{name}` may hold only letters, digits, `-` and `_`"
        ));
    }
    Ok(())
}

pub fn logical_name(name: &str) -> Result<(), String> {
    if name.is_empty() || NAME_CHARS.first_outside(name).is_some() {
        return Err(format!("`{name}` is not a valid logical name"));
    }
    Ok(())
}

/// A value as an error message quotes it: in full up to 40 characters, else its first 24 and
/// `…`. The diagnostic underlines the whole value where the spec writes it; a message that
/// repeats hundreds of characters only pushes its point off the screen.
pub fn clipped(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().count() <= 40 {
        return text.into();
    }
    let head: String = text.chars().take(24).collect();
    format!("{head}…").into()
}

/// IAM role (and user, policy, instance profile) names: `[\w+=,.@-]{1,64}`.
pub fn iam_name(name: &str, max: usize) -> Result<(), String> {
    if name.is_empty() || name.chars().count() > max {
        return Err(format!(
            "`{}` is {} characters; IAM allows 1 to {max}",
            clipped(name),
            name.chars().count()
        ));
    }
    if let Some(c) = IAM_NAME_CHARS.first_outside(name) {
        return Err(format!(
            "`{name}` contains `{c}`, which IAM does not allow in a name"
        ));
    }
    Ok(())
}

/// IAM paths: `/` or `/segment/.../`, ASCII from `!` to DEL, at most 512 characters.
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
    if let Some(c) = path
        .chars()
        .find(|c| *c != '/' && !IAM_PATH_SEGMENT_CHARS.allows(*c))
    {
        return Err(format!(
            "IAM path `{path}` contains {c:?}; only ASCII from `!` to DEL (no space) is allowed"
        ));
    }
    Ok(())
}

/// A managed policy's path: an IAM path whose segments hold letters, digits and `.,+@=_-`.
pub fn policy_path(path: &str) -> Result<(), String> {
    iam_path(path)?;
    match path
        .chars()
        .find(|c| *c != '/' && !POLICY_PATH_SEGMENT_CHARS.allows(*c))
    {
        Some(c) => Err(format!(
            "policy path `{path}` contains {c:?}; a managed policy's path holds only letters, digits and `.,+@=_-` between its `/`"
        )),
        None => Ok(()),
    }
}

pub fn tag_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.chars().count() > 128 {
        return Err(format!("tag key `{key}` must be 1 to 128 characters"));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(format!("tag key `{key}` uses the reserved `aws:` prefix"));
    }
    // plinth keeps its own records in tags (`plinth:stack`, `plinth:address`, a key's deletion
    // window); a user tag among them would be overwritten or read as one of plinth's.
    if key.starts_with(PLINTH_TAG_PREFIX) {
        return Err(format!("tag key `{key}` uses the `{PLINTH_TAG_PREFIX}` prefix, which plinth keeps for its own tags"));
    }
    if let Some(c) = key.chars().find(|c| !tag_char(*c)) {
        return Err(format!(
            "tag key `{}` contains {c:?}, which AWS does not allow",
            key.escape_debug()
        ));
    }
    Ok(())
}

/// What AWS documents for tag keys, and for IAM's, S3's and Lambda's tag values, the pattern
/// `[\p{L}\p{Z}\p{N}_.:/=+\-@]`: Unicode letters, separators (spaces, not tabs or line breaks)
/// and numbers, and `_ . : / = + - @`. A letter is the general category: a combining mark
/// (the vowel sign of `की`) is none, though Rust's `char::is_alphabetic` takes it.
fn tag_char(c: char) -> bool {
    static BEYOND_ASCII: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^[\p{L}\p{Z}\p{N}]$").expect("a valid character class")
    });
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c);
    }
    BEYOND_ASCII.is_match(c.encode_utf8(&mut [0; 4]))
}

/// The characters tag keys and values may hold, for hints.
pub const TAG_CHARACTERS: &str = "letters, digits, spaces and _ . : / = + - @";

/// Most tags a resource may carry: AWS's limit, less plinth's `plinth:stack` and
/// `plinth:address`.
pub const MAX_USER_TAGS: usize = 50 - 2;

pub fn tag_value(value: &str) -> Result<(), String> {
    if value.chars().count() > 256 {
        return Err("a tag value is at most 256 characters".into());
    }
    Ok(())
}

/// A region name as AWS spells them: lowercase letters, digits and `-` (`us-east-1`).
pub fn region_name(region: &str) -> Result<(), String> {
    let valid = !region.is_empty()
        && !region.starts_with('-')
        && !region.ends_with('-')
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if valid {
        Ok(())
    } else {
        Err(format!("`{region}` is not an AWS region name"))
    }
}

/// A role to assume: `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`, as STS's AssumeRole takes it.
pub fn role_arn(arn: &str) -> Result<(), String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = match parts.as_slice() {
        ["arn", partition, "iam", "", account, resource] => {
            partition.starts_with("aws")
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && resource
                    .strip_prefix("role/")
                    .and_then(|r| r.rsplit('/').next())
                    .is_some_and(|name| iam_name(name, ROLE_NAME_MAX).is_ok())
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("`{arn}` is not the ARN of an IAM role"))
    }
}

/// STS's pattern for a role session name, and a source identity: 2 to 64 letters, digits and
/// `_+=,.@-` (`[\w+=,.@-]*`).
pub fn session_name(name: &str) -> Result<(), String> {
    sts_text(name, 2, 64, "_+=,.@-")
}

/// STS's pattern for an external id: 2 to 1,224 letters, digits and `_+=,.@:/-`.
pub fn external_id(id: &str) -> Result<(), String> {
    sts_text(id, 2, 1224, "_+=,.@:/-")
}

fn sts_text(text: &str, min: usize, max: usize, punctuation: &str) -> Result<(), String> {
    let n = text.chars().count();
    if n < min || n > max {
        return Err(format!("is {n} characters; STS takes {min} to {max}"));
    }
    match text
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || punctuation.contains(*c)))
    {
        Some(c) => Err(format!(
            "holds {c:?}; STS takes letters, digits and `{punctuation}`"
        )),
        None => Ok(()),
    }
}

/// A queue's tag value: [`tag_value`], and not empty (SQS's quotas: "The Tag Value can't be
/// empty or null").
pub fn sqs_tag_value(value: &str) -> Result<(), String> {
    tag_value(value)?;
    if value.is_empty() {
        return Err("a queue's tag value is empty, which SQS refuses".into());
    }
    Ok(())
}

/// A tag value where the service checks its characters (IAM, S3, Lambda): [`tag_value`], and
/// only the characters of [`tag_char`].
pub fn tag_value_checked(value: &str) -> Result<(), String> {
    tag_value(value)?;
    if let Some(c) = value.chars().find(|c| !tag_char(*c)) {
        return Err(format!(
            "tag value `{}` contains {c:?}, which AWS does not allow",
            value.escape_debug()
        ));
    }
    Ok(())
}

/// A KMS key as SQS and S3 take one: its id (`1234abcd-...`, or `mrk-...` for a
/// multi-Region key), an alias (`alias/NAME`), or the ARN of either.
pub fn kms_key_reference(value: &str) -> Result<(), String> {
    let alias = |name: &str| {
        !name.is_empty()
            && name.len() <= 250
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_-".contains(c))
    };
    let key_id = |id: &str| {
        let uuid = id.len() == 36
            && id.char_indices().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => c == '-',
                _ => c.is_ascii_hexdigit(),
            });
        let multi_region = id
            .strip_prefix("mrk-")
            .is_some_and(|h| h.len() == 32 && h.chars().all(|c| c.is_ascii_hexdigit()));
        uuid || multi_region
    };
    let ok = if let Some(rest) = value.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        match parts.as_slice() {
            [_, "kms", region, account, resource] if !region.is_empty() && !account.is_empty() => {
                resource.strip_prefix("key/").is_some_and(key_id)
                    || resource.strip_prefix("alias/").is_some_and(alias)
            }
            _ => false,
        }
    } else if let Some(name) = value.strip_prefix("alias/") {
        alias(name)
    } else {
        key_id(value)
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` names no KMS key: a key is named by its id, an alias (alias/NAME) or the ARN of either",
            value.escape_debug()
        ))
    }
}

/// What an ARN must look like where a field takes one: the service, whether the ARN names a
/// region (IAM's are global), and the resource type it starts with (`role/`, `function:`).
#[derive(Debug, Clone, Copy)]
pub struct ArnShape {
    pub service: &'static str,
    pub regional: bool,
    pub resource_prefix: &'static str,
    /// The characters of the resource's name, after the prefix (a role's path and name, a
    /// function's name and qualifier), as the API's pattern allows them.
    pub name_chars: Charset,
    /// Whether AWS itself owns some (`arn:aws:iam::aws:policy/...`): the account `aws`.
    pub aws_owned: bool,
    /// What the field is for, as messages name it.
    pub what: &'static str,
}

pub const ROLE_ARN: ArnShape = ArnShape {
    service: "iam",
    regional: false,
    resource_prefix: "role/",
    name_chars: Charset("A-Za-z0-9_+=,.@/-"),
    aws_owned: false,
    what: "an IAM role ARN",
};
pub const MANAGED_POLICY_ARN: ArnShape = ArnShape {
    service: "iam",
    regional: false,
    resource_prefix: "policy/",
    name_chars: Charset("A-Za-z0-9_+=,.@/-"),
    aws_owned: true,
    what: "a managed policy ARN",
};
pub const QUEUE_ARN: ArnShape = ArnShape {
    service: "sqs",
    regional: true,
    resource_prefix: "",
    name_chars: Charset("A-Za-z0-9_.-"),
    aws_owned: false,
    what: "an SQS queue ARN",
};
pub const FUNCTION_ARN: ArnShape = ArnShape {
    service: "lambda",
    regional: true,
    resource_prefix: "function:",
    name_chars: Charset("A-Za-z0-9_:$-"),
    aws_owned: false,
    what: "a Lambda function ARN",
};

/// `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`, checked as far as the field's shape says.
pub fn arn(shape: ArnShape) -> impl Fn(&str) -> Result<(), String> {
    move |value: &str| {
        let parts: Vec<&str> = value.splitn(6, ':').collect();
        let [prefix, partition, service, region, account, resource] = parts.as_slice() else {
            return Err(format!(
                "`{value}` is not {}: an ARN is arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE",
                shape.what
            ));
        };
        let problem = if *prefix != "arn" {
            "it does not start with `arn:`".to_string()
        } else if !matches!(
            *partition,
            "aws"
                | "aws-cn"
                | "aws-us-gov"
                | "aws-iso"
                | "aws-iso-b"
                | "aws-iso-e"
                | "aws-iso-f"
                | "aws-eusc"
        ) {
            format!("`{partition}` is not an AWS partition")
        } else if *service != shape.service {
            format!("it is an ARN of `{service}`, not of `{}`", shape.service)
        } else if shape.regional && region.is_empty() {
            "it names no region".to_string()
        } else if !shape.regional && !region.is_empty() {
            format!("{} names no region, but it has `{region}`", shape.what)
        // AWS managed policies are owned by the account `aws`.
        } else if !(account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())
            || shape.aws_owned && *account == "aws")
        {
            format!("`{account}` is not a 12-digit account id")
        } else if resource.is_empty() {
            "the resource part is empty".to_string()
        } else if resource.len() <= shape.resource_prefix.len()
            || !resource.starts_with(shape.resource_prefix)
        {
            format!(
                "the resource part `{resource}` does not start with `{}` and a name",
                shape.resource_prefix
            )
        } else if let Some(c) = shape
            .name_chars
            .first_outside(&resource[shape.resource_prefix.len()..])
        {
            format!("its name holds `{c}`, which {} does not", shape.what)
        } else {
            return Ok(());
        };
        Err(format!("`{value}` is not {}: {problem}", shape.what))
    }
}

/// Policy documents' sizes as IAM and the resource services count them, white space left
/// out. Each kind's limits are in its table of attributes (`model::attributes`).
pub mod policy_size {
    use serde_json::Value;

    /// A document's size as AWS counts it: the characters of its JSON, white space left out
    /// (in strings too). Counted from the value as `serde_json` would write it compactly,
    /// without writing it.
    pub fn of(json: &Value) -> usize {
        match json {
            Value::Null | Value::Bool(true) => 4,
            Value::Bool(false) => 5,
            Value::Number(n) => number(n),
            Value::String(s) => string(s),
            // Brackets, and a comma between items.
            Value::Array(items) => 1 + items.len().max(1) + items.iter().map(of).sum::<usize>(),
            // Braces, a colon in each entry and a comma between them.
            Value::Object(entries) => {
                1 + entries.len().max(1)
                    + entries
                        .iter()
                        .map(|(k, v)| string(k) + 1 + of(v))
                        .sum::<usize>()
            }
        }
    }

    /// A string in its quotes, escaped as `serde_json` escapes it.
    fn string(s: &str) -> usize {
        2 + s
            .chars()
            .map(|c| match c {
                '"' | '\\' | '\u{8}' | '\t' | '\n' | '\u{c}' | '\r' => 2,
                '\0'..='\u{1f}' => 6,
                c if c.is_whitespace() => 0,
                _ => 1,
            })
            .sum::<usize>()
    }

    /// A number as `serde_json` writes it (no white space in it).
    fn number(n: &serde_json::Number) -> usize {
        struct Count(usize);
        impl std::fmt::Write for Count {
            fn write_str(&mut self, s: &str) -> std::fmt::Result {
                self.0 += s.len();
                Ok(())
            }
        }
        let mut count = Count(0);
        let _ = std::fmt::Write::write_fmt(&mut count, format_args!("{n}"));
        count.0
    }
}

/// Looks up a reference's value: a variable, a fact about the account, a resource's attribute.
pub type Lookup<'a> = &'a dyn Fn(&Reference) -> Option<String>;

/// Checks spec values against AWS's rules, once variables (the only references known before
/// AWS is read) are substituted; a value that still depends on AWS or another resource is
/// checked at plan time instead ([`Checker::resolved`]).
pub struct Checker<'a> {
    vars: &'a BTreeMap<String, Var>,
    /// Before AWS is read: stand-ins for the account, so that a reference that gives the
    /// wrong sort of value (a role's ARN where its name belongs) is found by validate.
    stand_ins: Option<Lookup<'a>>,
    /// At plan time: every reference's real value. Only values that hold a reference other
    /// than a variable are checked then; validate checked the rest.
    resolved: Option<Lookup<'a>>,
}

impl<'a> Checker<'a> {
    pub fn new(vars: &'a BTreeMap<String, Var>) -> Self {
        Self {
            vars,
            stand_ins: None,
            resolved: None,
        }
    }

    /// The loader's checker: variables, and `stand_ins` answering for the other references
    /// with values of the right shape (an account id of 12 digits), used only to tell a name
    /// from an ARN.
    pub fn with_stand_ins(vars: &'a BTreeMap<String, Var>, stand_ins: Lookup<'a>) -> Self {
        Self {
            vars,
            stand_ins: Some(stand_ins),
            resolved: None,
        }
    }

    /// The planner's checker: values with references to resources or the account, filled in.
    /// The region the stack is planned in, once AWS was read (plan); `None` before (validate).
    pub fn region(&self) -> Option<String> {
        self.resolved?(&Reference::Aws(super::template::AwsFact::Region))
    }

    pub fn resolved(vars: &'a BTreeMap<String, Var>, lookup: Lookup<'a>) -> Self {
        Self {
            vars,
            stand_ins: None,
            resolved: Some(lookup),
        }
    }

    /// At plan time, the region `text` (an ARN) names when it is not the stack's, or (with
    /// `same_account`) the account when that is not the stack's: `"region eu-west-1"`,
    /// `"account 111122223333"`. Before AWS is read, and for an ARN naming the stack's, `None`.
    pub fn elsewhere(&self, text: &Text, same_account: bool) -> Option<String> {
        let lookup = self.resolved?;
        let arn = render_with(text, lookup)?;
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [_, _, _, region, account, _] = parts.as_slice() else {
            return None;
        };
        let fact = |f: AwsFact| lookup(&Reference::Aws(f));
        if fact(AwsFact::Region).is_some_and(|r| !region.is_empty() && r != *region) {
            return Some(format!("region {region}"));
        }
        if same_account && fact(AwsFact::AccountId).is_some_and(|a| a != *account) {
            return Some(format!("account {account}"));
        }
        None
    }

    /// At plan time, the region a text's value is in, by `region_of`, when that is not the
    /// stack's: what [`Self::elsewhere`] tells of an ARN, for values shaped otherwise (an
    /// image's URI). Before AWS is read, `None`.
    pub fn region_elsewhere(
        &self,
        text: &Text,
        region_of: impl Fn(&str) -> Option<String>,
    ) -> Option<String> {
        let lookup = self.resolved?;
        let region = region_of(&render_with(text, lookup)?)?;
        let stack = lookup(&Reference::Aws(AwsFact::Region))?;
        (region != stack).then_some(region)
    }

    /// A text's value when it holds no references other than variables.
    pub fn resolve(&self, text: &Text) -> Option<String> {
        match self.resolved {
            Some(lookup) if has_other_references(text) => render_with(text, lookup),
            Some(_) => None,
            None => self.with_vars(text),
        }
    }

    /// A text's value as far as it can be told: [`Self::resolve`], or before AWS is read, its
    /// value with stand-ins for the account (a queue's ARN ends with its real name).
    pub fn shape(&self, text: &Text) -> Option<String> {
        self.resolve(text).or_else(|| {
            let stand_ins = self.stand_ins?;
            if text.is_broken() {
                return None;
            }
            render_with(text, &|r| match r {
                Reference::Var(n) => self.vars.get(n).and_then(super::Var::known),
                other => stand_ins(other),
            })
        })
    }

    /// `value` with its variables filled in, when it refers to nothing but variables with a
    /// value (`None` otherwise, and for a value that is no template).
    pub fn with_vars_only(&self, value: &str) -> Option<String> {
        super::with_vars_only(value, self.vars)
    }

    fn with_vars(&self, text: &Text) -> Option<String> {
        if text.is_broken() {
            return None;
        }
        render_with(text, &|r| match r {
            Reference::Var(n) => self.vars.get(n).and_then(super::Var::known),
            _ => None,
        })
    }

    /// Applies `rule` to a text's value; a violation points at the text, with `hint`. A
    /// reference to a resource's `arn` where the rule wants a name (or its `name` where the
    /// rule wants an ARN) is named as such, with the reference to write instead.
    /// `message` about `value` (the text rendered) with the value as the spec writes it where
    /// it holds a variable given from outside the spec (`--var`, `PLINTH_VAR_*`, a var file):
    /// such values are never shown in a diagnostic. `h62-${var.token}`, not the token.
    fn without_given_values(&self, text: &Text, value: &str, message: String) -> String {
        let given = |name: &str| {
            self.vars.get(name).is_some_and(|var| {
                var.location
                    .as_ref()
                    .is_none_or(|at| !std::sync::Arc::ptr_eq(&at.file, &text.location.file))
            })
        };
        if !text
            .references()
            .any(|r| matches!(r, Reference::Var(n) if given(n)))
        {
            return message;
        }
        let shown = super::template::render(&text.pieces, |r| match r {
            Reference::Var(n) if given(n) => Some(format!("${{var.{n}}}")),
            Reference::Var(n) => self.vars.get(n).map(|v| v.value.clone()),
            _ => None,
        })
        .unwrap_or_else(|| text.raw.clone());
        message.replace(&format!("`{value}`"), &format!("`{shown}`"))
    }

    pub fn text(
        &self,
        text: &Text,
        rule: impl Fn(&str) -> Result<(), String>,
        hint: &str,
        diags: &mut Diagnostics,
    ) {
        let error = |message: String, hint: String| {
            Diagnostic::error(Code::SpecInvalidValue, message)
                .at_location(Some(text.location.clone()))
                .hint(hint)
        };
        if let Some(value) = self.resolve(text) {
            if let Err(message) = rule(&value) {
                let lookup: Lookup<'_> = match self.resolved {
                    Some(l) => l,
                    None => &|r| match r {
                        Reference::Var(n) => self.vars.get(n).map(|v| v.value.clone()),
                        _ => None,
                    },
                };
                diags.push(match swapped_attribute(text, lookup, &rule) {
                    Some(swap) => error(swap.message(), swap.hint()),
                    None => error(
                        self.without_given_values(text, &value, message),
                        hint.to_string(),
                    ),
                });
            }
            return;
        }
        // Before AWS is read: only the name-for-ARN mistake is certain enough to report.
        if let Some(stand_ins) = self.stand_ins {
            let lookup = |r: &Reference| match r {
                Reference::Var(n) => self.vars.get(n).map(|v| v.value.clone()),
                other => stand_ins(other),
            };
            let failed = render_with(text, &lookup).is_some_and(|v| rule(&v).is_err());
            if failed {
                if let Some(swap) = swapped_attribute(text, &lookup, &rule) {
                    diags.push(error(swap.message(), swap.hint()));
                }
            }
        }
    }

    /// Checks a whole number against an inclusive range.
    pub fn range(
        &self,
        what: &str,
        value: &(i64, Location),
        range: std::ops::RangeInclusive<i64>,
        diags: &mut Diagnostics,
    ) {
        if !range.contains(&value.0) {
            diags.push(
                Diagnostic::error(
                    Code::SpecInvalidValue,
                    format!(
                        "{what} is {}; AWS allows {} to {}",
                        value.0,
                        range.start(),
                        range.end()
                    ),
                )
                .at_location(Some(value.1.clone()))
                .hint(format!(
                    "set {what} to a whole number from {} to {}",
                    range.start(),
                    range.end()
                )),
            );
        }
    }
}

fn render_with(text: &Text, lookup: Lookup<'_>) -> Option<String> {
    if text.is_broken() {
        return None;
    }
    super::template::render(&text.pieces, lookup)
}

/// Whether a text refers to something other than variables (a resource, the account).
fn has_other_references(text: &Text) -> bool {
    text.references().any(|r| !matches!(r, Reference::Var(_)))
}

/// A reference to one of a resource's identifiers where the field wants the other one.
struct Swap {
    written: String,
    instead: String,
    /// The field wants a name (`true`) or an ARN.
    wants_name: bool,
}

impl Swap {
    fn message(&self) -> String {
        if self.wants_name {
            format!("`{}` is an ARN, but this field takes a name", self.written)
        } else {
            format!("`{}` is a name, but this field takes an ARN", self.written)
        }
    }

    fn hint(&self) -> String {
        let what = if self.wants_name { "name" } else { "ARN" };
        format!("write `{}`, the resource's {what}", self.instead)
    }
}

/// The first reference to a resource's `arn` (or `name`) whose replacement by its `name` (or
/// `arn`) makes the value pass `rule`, when the value as written fails it.
fn swapped_attribute(
    text: &Text,
    lookup: Lookup<'_>,
    rule: &impl Fn(&str) -> Result<(), String>,
) -> Option<Swap> {
    for reference in text.references() {
        let Reference::Resource { address, attribute } = reference else {
            continue;
        };
        let (other, wants_name) = match attribute.as_str() {
            "arn" => ("name", true),
            "name" => ("arn", false),
            _ => continue,
        };
        if !address.kind.exported_attributes().contains(&other) {
            continue;
        }
        let swapped = Reference::Resource {
            address: address.clone(),
            attribute: other.to_string(),
        };
        let value = super::template::render(&text.pieces, &|r: &Reference| {
            lookup(if r == reference { &swapped } else { r })
        });
        if value.is_some_and(|v| rule(&v).is_ok()) {
            return Some(Swap {
                written: reference_text(reference),
                instead: reference_text(&swapped),
                wants_name,
            });
        }
    }
    None
}

/// A length limit, in characters.
pub fn max_chars(what: &'static str, max: usize) -> impl Fn(&str) -> Result<(), String> {
    move |v: &str| {
        if v.chars().count() > max {
            Err(format!("{what} is at most {max} characters"))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::STACK_TAG;

    #[test]
    fn iam_names() {
        assert!(iam_name("tonic-lambda-role", 64).is_ok());
        assert!(iam_name("a+b=c,d.e@f_g", 64).is_ok());
        assert!(iam_name(&"x".repeat(64), 64).is_ok());
        assert!(iam_name(&"x".repeat(65), 64)
            .unwrap_err()
            .contains("65 characters"));
        assert!(iam_name("has space", 64).unwrap_err().contains("` `"));
        assert!(iam_name("", 64).is_err());
        // An overlong name is quoted by its head, not repeated in full.
        let message = iam_name(&"x".repeat(500), 64).unwrap_err();
        assert_eq!(
            message,
            format!(
                "`{}…` is 500 characters; IAM allows 1 to 64",
                "x".repeat(24)
            )
        );
    }

    #[test]
    fn clipped_values() {
        assert_eq!(clipped("tonic-lambda"), "tonic-lambda");
        assert_eq!(clipped(&"é".repeat(40)), "é".repeat(40));
        assert_eq!(clipped(&"é".repeat(41)), format!("{}…", "é".repeat(24)));
    }

    #[test]
    fn charsets_read_their_class_as_a_regular_expression_does() {
        // The mask `first_outside` reads is the set `allows` reads, for every set of the spec's
        // rules and every ASCII character, and beyond ASCII it asks `allows`.
        let sets = [
            NAME_CHARS,
            IAM_NAME_CHARS,
            IAM_PATH_SEGMENT_CHARS,
            POLICY_PATH_SEGMENT_CHARS,
            Charset("a-z0-9.-"),
            Charset("A-Za-z0-9_:$-"),
            Charset("-a"),
            Charset("a-"),
        ];
        for set in sets {
            for c in (0u8..128).map(char::from) {
                let text = format!("{c}");
                let outside = set.first_outside(&text);
                assert_eq!(outside.is_none(), set.allows(c), "{:?} {c:?}", set.0);
            }
            assert_eq!(set.first_outside("é"), (!set.allows('é')).then_some('é'));
        }
        assert_eq!(
            IAM_PATH_SEGMENT_CHARS.first_outside("ab\u{7f}é~"),
            Some('é')
        );
        assert_eq!(NAME_CHARS.first_outside("ok-name_1 x"), Some(' '));
        assert!(IAM_NAME_CHARS.allows('a') && IAM_NAME_CHARS.allows('Z'));
        assert!(IAM_NAME_CHARS.allows('@') && IAM_NAME_CHARS.allows('-'));
        assert!(!IAM_NAME_CHARS.allows('/') && !IAM_NAME_CHARS.allows(' '));
        assert!(IAM_PATH_SEGMENT_CHARS.allows('!') && IAM_PATH_SEGMENT_CHARS.allows('~'));
        assert!(IAM_PATH_SEGMENT_CHARS.allows('\u{7f}') && !IAM_PATH_SEGMENT_CHARS.allows('é'));
        assert!(!IAM_PATH_SEGMENT_CHARS.allows('/') && !IAM_PATH_SEGMENT_CHARS.allows(' '));
        assert!(NAME_CHARS.allows('_') && NAME_CHARS.allows('-') && NAME_CHARS.allows('9'));
        assert!(!NAME_CHARS.allows('^') && !NAME_CHARS.allows('.'));
        assert_eq!(NAME_CHARS.first_outside("tonic-work.fifo"), Some('.'));
        assert_eq!(NAME_CHARS.literal_pattern(1, 64), "^[A-Za-z0-9_-]{1,64}$");
        assert_eq!(
            NAME_CHARS.pattern(1, 2),
            r"^(?:[A-Za-z0-9_-]{1,2}|(?:[A-Za-z0-9_-]|\$\{[^}]*\})*\$\{[^}]*\}(?:[A-Za-z0-9_-]|\$\{[^}]*\})*)$"
        );
    }

    #[test]
    fn iam_paths() {
        assert!(iam_path("/").is_ok());
        assert!(iam_path("/tonic/workers/").is_ok());
        assert!(iam_path("tonic/").is_err());
        assert!(iam_path("/tonic").is_err());
        assert!(iam_path("/a//b/").is_err());
        assert!(iam_path("/a b/").is_err());
        // A role's path takes any ASCII from `!` to DEL; a managed policy's, fewer characters.
        assert!(iam_path("/team*/").is_ok());
        assert!(policy_path("/team*/").unwrap_err().contains("'*'"));
        assert!(policy_path("/tonic/v1.2,a+b@c=d_e-f/").is_ok());
        assert!(policy_path("/a//b/").is_err());
    }

    #[test]
    fn arns_by_shape() {
        let role = arn(ROLE_ARN);
        assert!(role("arn:aws:iam::123456789012:role/tonic/lambda").is_ok());
        assert!(role("arn:aws-cn:iam::123456789012:role/x").is_ok());
        assert!(role("tonic-lambda")
            .unwrap_err()
            .contains("arn:PARTITION:SERVICE"));
        assert!(role("arn:aws:iam::123456789012:user/x")
            .unwrap_err()
            .contains("`role/`"));
        assert!(role("arn:aws:iam:us-east-1:123456789012:role/x")
            .unwrap_err()
            .contains("names no region"));
        assert!(role("arn:aws:iam::123456789012:role/").is_err());
        // Only AWS's managed policies are owned by the account `aws`; names hold what the
        // API's pattern allows.
        assert!(role("arn:aws:iam::aws:role/x")
            .unwrap_err()
            .contains("12-digit"));
        assert!(role("arn:aws:iam::123456789012:role/my role")
            .unwrap_err()
            .contains("holds ` `"));
        assert!(
            arn(QUEUE_ARN)("arn:aws:sqs:us-east-1:123456789012:bad!name")
                .unwrap_err()
                .contains("holds `!`")
        );
        assert!(
            arn(FUNCTION_ARN)("arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST").is_ok()
        );
        let policy = arn(MANAGED_POLICY_ARN);
        assert!(policy("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole").is_ok());
        assert!(policy("arn:aws:iam::12345:policy/x")
            .unwrap_err()
            .contains("12-digit"));
        let queue = arn(QUEUE_ARN);
        assert!(queue("arn:aws:sqs:us-east-1:123456789012:work.fifo").is_ok());
        assert!(queue("arn:aws:sqs::123456789012:work")
            .unwrap_err()
            .contains("names no region"));
        assert!(queue("arn:aws:sqs:us-east-1:123456789012:")
            .unwrap_err()
            .contains("empty"));
        assert!(queue("arn:aws:sns:us-east-1:123456789012:t")
            .unwrap_err()
            .contains("`sns`"));
        assert!(queue("arn:nope:sqs:us-east-1:123456789012:t")
            .unwrap_err()
            .contains("partition"));
        assert!(arn(FUNCTION_ARN)("arn:aws:lambda:us-east-1:123456789012:function:worker").is_ok());
    }

    #[test]
    fn policy_sizes_leave_white_space_out() {
        let json: serde_json::Value =
            serde_json::from_str(r#"{ "Statement": [ { "Sid": "a b" } ] }"#).unwrap();
        assert_eq!(
            policy_size::of(&json),
            r#"{"Statement":[{"Sid":"ab"}]}"#.len()
        );
        // Characters, not bytes; Unicode white space is white space too.
        let json = serde_json::json!({ "Sid": "é\u{2003}\n\t✓", "Ü": [1, "x y"] });
        assert_eq!(
            policy_size::of(&json),
            json.to_string()
                .chars()
                .filter(|c| !c.is_whitespace())
                .count()
        );
        assert_eq!(
            policy_size::of(&json),
            r#"{"Sid":"é\n\t✓","Ü":[1,"xy"]}"#.chars().count()
        ); // Escapes, control characters, numbers and empty containers, each counted as the
           // compact text that `serde_json` writes.
        for json in [
            serde_json::json!({ "q": "a\"b\\c/d", "ctl": "\u{1}\u{8}\u{c}\r\u{1f}\u{7f}" }),
            serde_json::json!({ "n": [-12, 3.5, 1e300, 0, u64::MAX], "b": [true, false, null] }),
            serde_json::json!({ "e": {}, "a": [], "ea": [[], {}], "": "" }),
            serde_json::json!([]),
            serde_json::json!("\u{a0}\u{2028}x\u{3000}"),
        ] {
            let written = serde_json::to_string(&json).unwrap();
            let counted = written.chars().filter(|c| !c.is_whitespace()).count();
            assert_eq!(policy_size::of(&json), counted, "{written}");
        }
    }

    #[test]
    fn kms_key_references() {
        for good in [
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "mrk-1234abcd12ab34cd56ef1234567890ab",
            "alias/tonic-sqs",
            "alias/aws/sqs",
            "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:us-east-1:123456789012:alias/tonic-sqs",
        ] {
            assert_eq!(kms_key_reference(good), Ok(()), "{good}");
        }
        for bad in [
            "tonic-sqs",
            "alias/",
            "alias/with space",
            "1234abcd-12ab-34cd-56ef-1234567890",
            "arn:aws:kms:us-east-1:123456789012:tonic-sqs",
            "arn:aws:sqs:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ] {
            assert!(kms_key_reference(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tag_keys() {
        assert!(tag_key("team").is_ok());
        assert!(tag_key("aws:foo").is_err());
        assert!(tag_key(STACK_TAG).is_err());
        assert!(tag_key("plinth:deletion-window-days").is_err());
        assert!(tag_key("a*b").is_err());
    }

    /// AWS's pattern `[\p{L}\p{Z}\p{N}_.:/=+\-@]`, by general category.
    #[test]
    fn tag_characters_beyond_ascii() {
        for fine in [
            "équipe",
            "チーム",
            "команда",
            "٣",
            "Ⅻ",
            "a\u{00A0}b",
            "a\u{3000}b",
            "ǅ",
        ] {
            assert!(tag_key(fine).is_ok(), "{fine:?}");
            assert!(tag_value_checked(fine).is_ok(), "{fine:?}");
        }
        // A combining vowel sign (Mc, Mn) is no letter; nor a symbol or a tab.
        for refused in ["की", "e\u{0301}", "Ⓐ", "a\tb", "a\u{2028}b\n", "€", "🙂"] {
            assert!(tag_value_checked(refused).is_err(), "{refused:?}");
        }
        assert!(tag_value_checked("a\u{2028}b").is_ok());
    }
}
