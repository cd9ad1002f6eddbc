//! Whether one condition test implies another: the values each admits, by operator family.
//!
//! A condition admits the context values that meet it. `implies(inner, outer)` is true when
//! every value `inner` admits is admitted by `outer`, so a statement whose conditions imply
//! another's grants no more. The families compare values the way IAM does: strings exactly,
//! ignoring case or as wildcard patterns; numbers and dates by magnitude (`100` is `100.0`, a
//! later start date admits less); IP addresses by CIDR containment. Anything not understood
//! answers `false`, which callers read as "may widen": the safe answer for a reviewer.

use std::borrow::Cow;
use std::net::IpAddr;

use super::model::Condition;
use super::pattern;

/// Does `outer` hold whenever `inner` does? Both are normalized (keys lowercased).
pub(crate) fn implies(inner: &Condition, outer: &Condition) -> bool {
    if inner.key != outer.key {
        return false;
    }
    let (inner_op, outer_op) = (Operator::of(inner), Operator::of(outer));
    let (Some(inner_op), Some(outer_op)) = (inner_op, outer_op) else {
        return false;
    };
    // A set prefix changes how many request values must match; only like compares to like.
    // Only the outer side may admit a request without the key alone.
    if inner_op.set != outer_op.set || (inner_op.admits_absent() && !outer_op.admits_absent()) {
        return false;
    }
    match (inner_op.family, outer_op.family) {
        (Family::String(a), Family::String(b)) => strings_imply(
            (a, inner_op.negated, &inner.values),
            (b, outer_op.negated, &outer.values),
        ),
        (Family::Numeric(a), Family::Numeric(b)) => {
            ranges_imply(a, &inner.values, b, &outer.values, parse_number)
        }
        (Family::Date(a), Family::Date(b)) => {
            ranges_imply(a, &inner.values, b, &outer.values, parse_date)
        }
        (Family::Ip, Family::Ip) => ips_imply(
            (inner_op.negated, &inner.values),
            (outer_op.negated, &outer.values),
        ),
        (Family::Literal, Family::Literal) => {
            inner_op.base == outer_op.base
                && literals_imply(inner_op.negated, &inner.values, &outer.values)
        }
        _ => false,
    }
}

/// One case of a request, as far as one context key goes: the key is absent, present with a
/// given value, or present with a value that none of the case split's values equals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyCase<'a> {
    Absent,
    Is(&'a str),
    Other,
}

/// Whether a condition holds in a [`KeyCase`] of its key: surely, surely not, or depending on
/// more than the case says (numbers, address ranges, patterns, multivalued keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Truth {
    Holds,
    Fails,
    Open,
}

impl Truth {
    fn of(held: bool) -> Truth {
        if held {
            Truth::Holds
        } else {
            Truth::Fails
        }
    }
}

/// Decides `condition` in one case of its key. `Other` stands for values absent from
/// [`case_values`] of every condition on the key, so a condition is judged `Fails` there only
/// when it admits nothing but its listed exact values.
pub(crate) fn truth(condition: &Condition, case: KeyCase) -> Truth {
    let Some(operator) = Operator::of(condition) else {
        return Truth::Open;
    };
    let is_null = operator.base == "Null";
    if is_null {
        let value = match condition.values.as_slice() {
            [value] if value.eq_ignore_ascii_case("true") => true,
            [value] if value.eq_ignore_ascii_case("false") => false,
            _ => return Truth::Open,
        };
        return Truth::of(value == (case == KeyCase::Absent));
    }
    if case == KeyCase::Absent {
        return Truth::of(operator.admits_absent());
    }
    let Family::String(how) = operator.family else {
        return Truth::Open;
    };
    // The ARN operators match field by field; their exact semantics are left to `implies`.
    if operator.set != SetPrefix::None || operator.base.starts_with("Arn") {
        return Truth::Open;
    }
    let Some(sets) = condition
        .values
        .iter()
        .map(|value| StringSet::new(how, value))
        .collect::<Option<Vec<_>>>()
    else {
        return Truth::Open;
    };
    if sets.iter().any(|set| has_unknown_variable(&set.value)) {
        return Truth::Open;
    }
    let matched = match case {
        KeyCase::Is(value) => {
            let one = StringSet {
                how: Match::Exact,
                value: Cow::Borrowed(value),
            };
            sets.iter().any(|set| one.within(set))
        }
        KeyCase::Other
            if sets
                .iter()
                .any(|set| pattern::is_universal(&set.value) && set.how == Match::Pattern) =>
        {
            true
        }
        KeyCase::Other if sets.iter().all(|set| set.literal().is_some()) => false,
        _ => return Truth::Open,
    };
    Truth::of(matched != operator.negated)
}

/// The exact values a condition compares its key with, which a case split gives a case each.
pub(crate) fn case_values(condition: &Condition) -> Vec<String> {
    let Some(operator) = Operator::of(condition) else {
        return Vec::new();
    };
    match operator.family {
        Family::String(how)
            if operator.set == SetPrefix::None && !operator.base.starts_with("Arn") =>
        {
            condition
                .values
                .iter()
                .filter_map(|value| StringSet::new(how, value))
                .filter(|set| !has_unknown_variable(&set.value))
                .filter_map(|set| set.literal().map(str::to_string))
                .collect()
        }
        _ => Vec::new(),
    }
}

/// Whether the condition's values are alternatives: it holds when one of them does, so each
/// value can be considered on its own. True of every operator that is not negated, `Null` or
/// `ForAllValues`.
pub(crate) fn is_disjunction(condition: &Condition) -> bool {
    Operator::of(condition).is_some_and(|operator| {
        !operator.negated && operator.base != "Null" && operator.set != SetPrefix::ForAllValues
    })
}

/// Whether a condition with `operator` holds only for a request whose key matches one of its
/// values: false for a negated operator, `...IfExists`, `ForAllValues` (each holds for a
/// request without the key) and `Null`, and for an operator this does not know.
pub(crate) fn holds_only_on_listed_values(operator: &str) -> bool {
    Operator::parse(operator).is_some_and(|operator| {
        !operator.admits_absent() && operator.base != "Null" && !operator.negated
    })
}

/// Whether a value of a condition key on the caller or the request's source names one caller,
/// network or source, as S3 judges a policy public: no wildcard (a role's sessions,
/// `AROAEXAMPLEID:*` for `aws:userid`, are one role's), and no range of every address.
pub(crate) fn fixed_value(key: &str, value: &str) -> bool {
    let value = match key {
        "aws:userid" => value.strip_suffix(":*").unwrap_or(value),
        _ => value,
    };
    !value.is_empty() && !pattern::has_wildcard(value) && value != "0.0.0.0/0" && value != "::/0"
}

/// A policy variable whose value is known only when a request is made (`${aws:username}`).
pub(super) fn has_unknown_variable(text: &str) -> bool {
    pattern::find_open(text).is_some()
}

/// Why `value` is not one `operator` can compare (`10.0.0.300/8` for `IpAddress`, `yesterday`
/// for a date, `yes` for `Bool`): the condition then never holds for a request. `None` for a
/// value that fits, one holding a policy variable, or an operator this does not judge.
pub(crate) fn value_problem(operator: &str, value: &str) -> Option<&'static str> {
    if has_unknown_variable(value) {
        return None;
    }
    let operator = Operator::parse(operator)?;
    match (operator.family, operator.base) {
        (Family::Ip, _) if Cidr::parse(value).is_none() => {
            Some("is not an IP address or a CIDR range")
        }
        (Family::Numeric(_), _) if parse_number(value).is_none() => Some("is not a number"),
        (Family::Date(_), _) if parse_date(value).is_none() => {
            Some("is not a date (ISO 8601, such as 2026-01-31T00:00:00Z, or seconds since 1970)")
        }
        (Family::Literal, "Bool" | "Null")
            if !value.eq_ignore_ascii_case("true") && !value.eq_ignore_ascii_case("false") =>
        {
            Some("is not true or false")
        }
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetPrefix {
    None,
    ForAllValues,
    ForAnyValue,
}

/// How a string-like operator reads its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Match {
    /// `StringEquals`: exact text.
    Exact,
    /// `StringEqualsIgnoreCase`.
    IgnoreCase,
    /// `StringLike`, `ArnLike`, `ArnEquals`: `*` and `?` are wildcards.
    Pattern,
}

/// How a numeric or date operator compares the request value `x` with the listed `v`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compare {
    Equals,
    NotEquals,
    LessThan,
    LessThanEquals,
    GreaterThan,
    GreaterThanEquals,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    String(Match),
    Numeric(Compare),
    Date(Compare),
    Ip,
    /// `Bool`, `Null`, `BinaryEquals`: compared as written (booleans ignoring case).
    Literal,
}

struct Operator<'a> {
    /// Without set prefix or `IfExists`.
    base: &'a str,
    set: SetPrefix,
    if_exists: bool,
    negated: bool,
    /// Fails for a request without the key, whatever the operator would say.
    needs_key: bool,
    family: Family,
}

impl Operator<'_> {
    /// Does the condition hold for a request without the key? IAM's rule: `...IfExists` does,
    /// and so does a negated operator (the key does not match the values) and `ForAllValues`
    /// (no value fails); every other operator does not. `Null` is decided by its value.
    fn admits_absent(&self) -> bool {
        !self.needs_key
            && (self.if_exists
                || self.set == SetPrefix::ForAllValues
                || (self.set == SetPrefix::None && self.negated))
    }

    /// The operator of `condition`, with a set prefix on a key that holds one value read as
    /// what it means there. AWS reads such a key as a set of one value (or of none, when the
    /// request lacks it): `ForAnyValue:StringEquals` is `StringEquals`, `ForAllValues`, which
    /// also holds for a request without the key, is `StringEqualsIfExists` (or the negated
    /// operator itself), and a negated `ForAnyValue` is the negated operator on a request that
    /// has the key.
    fn of(condition: &Condition) -> Option<Operator<'_>> {
        let mut operator = Operator::parse(&condition.operator)?;
        if operator.set == SetPrefix::None
            || operator.base == "Null"
            || super::catalog::catalog().key_is_multivalued(&condition.key) != Some(false)
        {
            return Some(operator);
        }
        match operator.set {
            SetPrefix::ForAllValues => operator.if_exists |= !operator.negated,
            _ => operator.needs_key = operator.negated && !operator.if_exists,
        }
        operator.set = SetPrefix::None;
        Some(operator)
    }

    fn parse(operator: &str) -> Option<Operator<'_>> {
        let (set, rest) = if let Some(rest) = operator.strip_prefix("ForAllValues:") {
            (SetPrefix::ForAllValues, rest)
        } else if let Some(rest) = operator.strip_prefix("ForAnyValue:") {
            (SetPrefix::ForAnyValue, rest)
        } else {
            (SetPrefix::None, operator)
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (rest, false),
        };
        let (family, negated) = match base {
            "StringEquals" => (Family::String(Match::Exact), false),
            "StringNotEquals" => (Family::String(Match::Exact), true),
            "StringEqualsIgnoreCase" => (Family::String(Match::IgnoreCase), false),
            "StringNotEqualsIgnoreCase" => (Family::String(Match::IgnoreCase), true),
            "StringLike" | "ArnLike" | "ArnEquals" => (Family::String(Match::Pattern), false),
            "StringNotLike" | "ArnNotLike" | "ArnNotEquals" => {
                (Family::String(Match::Pattern), true)
            }
            "IpAddress" => (Family::Ip, false),
            "NotIpAddress" => (Family::Ip, true),
            "Bool" | "Null" | "BinaryEquals" => (Family::Literal, false),
            other => {
                let (numeric, name) =
                    match (other.strip_prefix("Numeric"), other.strip_prefix("Date")) {
                        (Some(name), _) => (true, name),
                        (_, Some(name)) => (false, name),
                        _ => return None,
                    };
                let compare = match name {
                    "Equals" => Compare::Equals,
                    "NotEquals" => Compare::NotEquals,
                    "LessThan" => Compare::LessThan,
                    "LessThanEquals" => Compare::LessThanEquals,
                    "GreaterThan" => Compare::GreaterThan,
                    "GreaterThanEquals" => Compare::GreaterThanEquals,
                    _ => return None,
                };
                let family = if numeric {
                    Family::Numeric(compare)
                } else {
                    Family::Date(compare)
                };
                (family, compare == Compare::NotEquals)
            }
        };
        Some(Operator {
            base,
            set,
            if_exists,
            negated,
            needs_key: false,
            family,
        })
    }
}

/// One listed value of a string-like operator: the set of strings it names.
#[derive(Clone)]
struct StringSet<'a> {
    how: Match,
    value: Cow<'a, str>,
}

impl<'a> StringSet<'a> {
    /// The set `value` names under `how`, after IAM's special-character variables: `${*}`,
    /// `${?}` and `${$}` are the literal characters, so a `StringLike` value whose only
    /// wildcards are written that way names one string. `None` for a value mixing them with
    /// real wildcards, which this does not compare.
    fn new(how: Match, value: &'a str) -> Option<StringSet<'a>> {
        if pattern::find_open(value).is_none() {
            return Some(StringSet {
                how,
                value: Cow::Borrowed(value),
            });
        }
        let escaped_wildcard = value.contains("${*}") || value.contains("${?}");
        let how = match how {
            Match::Pattern if escaped_wildcard => {
                let rest = value.replace("${*}", "").replace("${?}", "");
                if pattern::has_wildcard(&rest) {
                    return None;
                }
                Match::Exact
            }
            other => other,
        };
        Some(StringSet {
            how,
            value: Cow::Owned(literal_characters(value)),
        })
    }

    /// The one string this set names, if it names exactly one.
    fn literal(&self) -> Option<&str> {
        match self.how {
            Match::Exact => Some(&self.value),
            Match::Pattern if !pattern::has_wildcard(&self.value) => Some(&self.value),
            _ => None,
        }
    }

    /// Every string `self` names is named by `outer`.
    fn within(&self, outer: &StringSet) -> bool {
        let (a, b) = (&*self.value, &*outer.value);
        let wild = |s: &str| pattern::has_wildcard(s);
        match (self.how, outer.how) {
            (Match::Exact, Match::Exact) => a == b,
            (Match::Exact, Match::IgnoreCase) => a.to_lowercase() == b.to_lowercase(),
            (Match::Exact, Match::Pattern) => pattern::matches(b, a),
            (Match::IgnoreCase, Match::IgnoreCase) => a.to_lowercase() == b.to_lowercase(),
            // Every spelling of `a` must be named: only when it has no letters.
            (Match::IgnoreCase, Match::Exact) => !has_cased(a) && a == b,
            (Match::IgnoreCase, Match::Pattern) => {
                pattern::is_universal(b) || (!has_cased(a) && pattern::matches(b, a))
            }
            (Match::Pattern, Match::Pattern) => pattern::is_subset(a, b),
            (Match::Pattern, Match::Exact) => !wild(a) && a == b,
            (Match::Pattern, Match::IgnoreCase) => !wild(a) && a.to_lowercase() == b.to_lowercase(),
        }
    }

    /// No string is named by both.
    fn disjoint(&self, other: &StringSet) -> bool {
        match (self.literal(), other.literal()) {
            (Some(a), Some(b)) => a != b,
            (Some(a), None) | (None, Some(a)) => {
                let set = if self.literal().is_some() {
                    other
                } else {
                    self
                };
                !StringSet {
                    how: Match::Exact,
                    value: Cow::Borrowed(a),
                }
                .within(set)
            }
            (None, None) => match (self.how, other.how) {
                (Match::Pattern, Match::Pattern) => !pattern::overlaps(&self.value, &other.value),
                _ => self.value.to_lowercase() != other.value.to_lowercase(),
            },
        }
    }
}

/// `text` with IAM's special-character variables replaced by the characters they stand for.
fn literal_characters(text: &str) -> String {
    text.replace("${*}", "*")
        .replace("${?}", "?")
        .replace("${$}", "$")
}

fn has_cased(text: &str) -> bool {
    text.chars().any(|c| c.to_lowercase().ne(c.to_uppercase()))
}

/// A positive operator admits the union of its values' sets; a negated one the complement of
/// that union.
fn strings_imply(inner: (Match, bool, &[String]), outer: (Match, bool, &[String])) -> bool {
    fn sets<'a>((how, _, values): (Match, bool, &'a [String])) -> Option<Vec<StringSet<'a>>> {
        values.iter().map(|v| StringSet::new(how, v)).collect()
    }
    let (Some(inner_sets), Some(outer_sets)) = (sets(inner), sets(outer)) else {
        return false;
    };
    match (inner.1, outer.1) {
        (false, false) => inner_sets
            .iter()
            .all(|i| outer_sets.iter().any(|o| i.within(o))),
        // Complements: admitting no more means excluding at least as much.
        (true, true) => outer_sets
            .iter()
            .all(|o| inner_sets.iter().any(|i| o.within(i))),
        (false, true) => inner_sets
            .iter()
            .all(|i| outer_sets.iter().all(|o| i.disjoint(o))),
        (true, false) => false,
    }
}

fn literals_imply(negated: bool, inner: &[String], outer: &[String]) -> bool {
    let has = |values: &[String], v: &str| values.iter().any(|o| o.eq_ignore_ascii_case(v));
    if negated {
        outer.iter().all(|v| has(inner, v))
    } else {
        inner.iter().all(|v| has(outer, v))
    }
}

/// A bound of an interval of numbers (dates are seconds since the epoch).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bound {
    value: f64,
    inclusive: bool,
}

/// The values between `low` and `high`; `None` is unbounded.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Interval {
    low: Option<Bound>,
    high: Option<Bound>,
}

impl Interval {
    fn of(compare: Compare, value: f64) -> Interval {
        let bound = |inclusive| Some(Bound { value, inclusive });
        match compare {
            Compare::Equals => Interval {
                low: bound(true),
                high: bound(true),
            },
            Compare::LessThan => Interval {
                low: None,
                high: bound(false),
            },
            Compare::LessThanEquals => Interval {
                low: None,
                high: bound(true),
            },
            Compare::GreaterThan => Interval {
                low: bound(false),
                high: None,
            },
            Compare::GreaterThanEquals => Interval {
                low: bound(true),
                high: None,
            },
            Compare::NotEquals => unreachable!("a complement is not an interval"),
        }
    }

    fn within(self, outer: Interval) -> bool {
        let low_ok = match (self.low, outer.low) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(i), Some(o)) => {
                i.value > o.value || (i.value == o.value && (o.inclusive || !i.inclusive))
            }
        };
        let high_ok = match (self.high, outer.high) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(i), Some(o)) => {
                i.value < o.value || (i.value == o.value && (o.inclusive || !i.inclusive))
            }
        };
        low_ok && high_ok
    }

    fn contains(self, point: f64) -> bool {
        Interval::of(Compare::Equals, point).within(self)
    }
}

/// Numeric and date operators: each positive value admits an interval, the operator their
/// union; `NotEquals` admits everything but its values.
fn ranges_imply(
    inner_op: Compare,
    inner: &[String],
    outer_op: Compare,
    outer: &[String],
    parse: fn(&str) -> Option<f64>,
) -> bool {
    let parsed = |values: &[String]| {
        values
            .iter()
            .map(|v| parse(v))
            .collect::<Option<Vec<f64>>>()
    };
    let (Some(inner), Some(outer)) = (parsed(inner), parsed(outer)) else {
        return false;
    };
    let intervals = |op, values: &[f64]| {
        values
            .iter()
            .map(|&v| Interval::of(op, v))
            .collect::<Vec<_>>()
    };
    match (
        inner_op == Compare::NotEquals,
        outer_op == Compare::NotEquals,
    ) {
        (false, false) => {
            let outer = intervals(outer_op, &outer);
            intervals(inner_op, &inner)
                .iter()
                .all(|i| outer.iter().any(|o| i.within(*o)))
        }
        (true, true) => outer.iter().all(|o| inner.contains(o)),
        (false, true) => intervals(inner_op, &inner)
            .iter()
            .all(|i| outer.iter().all(|&o| !i.contains(o))),
        (true, false) => false,
    }
}

fn parse_number(text: &str) -> Option<f64> {
    let text = text.trim();
    let number: f64 = text.parse().ok()?;
    number.is_finite().then_some(number)
}

/// A date as IAM reads it: seconds since the epoch, or ISO 8601 (`2026-01-01`,
/// `2026-01-01T12:00:00Z`, with fractions or an offset).
fn parse_date(text: &str) -> Option<f64> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    let (date, time) = match text.split_once(['T', 't']) {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let mut parts = date.splitn(3, '-');
    let year: i64 = digits(parts.next()?, 4)?;
    let month: i64 = digits(parts.next()?, 2)?;
    let day: i64 = digits(parts.next()?, 2)?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let mut seconds = days_from_civil(year, month, day) as f64 * 86_400.0;
    if let Some(time) = time {
        let (clock, offset) = split_offset(time)?;
        let mut fields = clock.splitn(3, ':');
        let hours: i64 = digits(fields.next()?, 2)?;
        let minutes: i64 = digits(fields.next()?, 2)?;
        let secs: f64 = match fields.next() {
            None => 0.0,
            Some(s) if s.len() >= 2 && s.as_bytes()[..2].iter().all(u8::is_ascii_digit) => {
                s.parse().ok()?
            }
            Some(_) => return None,
        };
        if hours > 23 || minutes > 59 || !(0.0..61.0).contains(&secs) {
            return None;
        }
        seconds += (hours * 3600 + minutes * 60) as f64 + secs - offset;
    }
    Some(seconds)
}

fn digits(text: &str, length: usize) -> Option<i64> {
    (text.len() == length && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// Splits `12:00:00+02:00` into the clock and the offset in seconds east of UTC.
fn split_offset(time: &str) -> Option<(&str, f64)> {
    if let Some(clock) = time.strip_suffix(['Z', 'z']) {
        return Some((clock, 0.0));
    }
    match time.rfind(['+', '-']) {
        Some(at) => {
            let (clock, offset) = time.split_at(at);
            let sign = if offset.starts_with('-') { -1.0 } else { 1.0 };
            let (h, m) = offset[1..].split_once(':').unwrap_or((&offset[1..], "00"));
            let (h, m) = (digits(h, 2)?, digits(m, 2)?);
            Some((clock, sign * (h * 3600 + m * 60) as f64))
        }
        None => Some((time, 0.0)),
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// An address block: a network and its prefix length.
#[derive(Debug, Clone, Copy)]
struct Cidr {
    address: u128,
    prefix: u32,
    v6: bool,
}

impl Cidr {
    fn parse(text: &str) -> Option<Cidr> {
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix.parse::<u32>().ok()?)),
            None => (text.trim(), None),
        };
        let (bits, v6, width) = match address.parse::<IpAddr>().ok()? {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), false, 32),
            IpAddr::V6(v6) => (u128::from(v6), true, 128),
        };
        let prefix = prefix.unwrap_or(width);
        (prefix <= width).then(|| Cidr {
            address: mask(bits, prefix, width),
            prefix,
            v6,
        })
    }

    fn width(self) -> u32 {
        if self.v6 {
            128
        } else {
            32
        }
    }

    fn within(self, outer: Cidr) -> bool {
        self.v6 == outer.v6
            && self.prefix >= outer.prefix
            && mask(self.address, outer.prefix, self.width()) == outer.address
    }

    fn disjoint(self, other: Cidr) -> bool {
        !(self.within(other) || other.within(self))
    }

    /// Is every address of `self` in one of `blocks`? Two halves may be covered by two
    /// blocks, as `10.0.0.0/9` and `10.128.0.0/9` cover `10.0.0.0/8`. Only halves that
    /// hold a smaller block are split, so the search stays as small as `blocks`.
    fn within_union(self, blocks: &[Cidr]) -> bool {
        if blocks.iter().any(|b| self.within(*b)) {
            return true;
        }
        if self.prefix >= self.width() || !blocks.iter().any(|b| b.within(self)) {
            return false;
        }
        let half = |high: bool| Cidr {
            address: self.address | (u128::from(high) << (self.width() - self.prefix - 1)),
            prefix: self.prefix + 1,
            v6: self.v6,
        };
        half(false).within_union(blocks) && half(true).within_union(blocks)
    }
}

fn mask(bits: u128, prefix: u32, width: u32) -> u128 {
    if prefix == 0 {
        return 0;
    }
    let keep = u128::MAX << (width - prefix);
    let keep = if width == 128 {
        keep
    } else {
        keep & ((1u128 << width) - 1)
    };
    bits & keep
}

fn ips_imply(inner: (bool, &[String]), outer: (bool, &[String])) -> bool {
    let parsed = |values: &[String]| {
        values
            .iter()
            .map(|v| Cidr::parse(v))
            .collect::<Option<Vec<_>>>()
    };
    let (Some(inner_blocks), Some(outer_blocks)) = (parsed(inner.1), parsed(outer.1)) else {
        return false;
    };
    match (inner.0, outer.0) {
        (false, false) => inner_blocks.iter().all(|i| i.within_union(&outer_blocks)),
        (true, true) => outer_blocks.iter().all(|o| o.within_union(&inner_blocks)),
        (false, true) => inner_blocks
            .iter()
            .all(|i| outer_blocks.iter().all(|o| i.disjoint(*o))),
        (true, false) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn condition(operator: &str, key: &str, values: &[&str]) -> Condition {
        Condition {
            operator: operator.to_string(),
            key: key.to_string(),
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01"), Some(0.0));
        assert_eq!(parse_date("1970-01-02T00:00:00Z"), Some(86_400.0));
        assert_eq!(parse_date("86400"), Some(86_400.0));
        assert_eq!(
            parse_date("2026-03-01T01:00:00+01:00"),
            parse_date("2026-03-01")
        );
        assert_eq!(
            parse_date("2026-03-01T00:00:00.5Z"),
            parse_date("2026-03-01").map(|s| s + 0.5)
        );
        assert!(parse_date("2024-02-29") < parse_date("2024-03-01"));
        for bad in ["2026-13-01", "tomorrow", "2026-1-1", "2026-01-01T25:00Z"] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn cidrs() {
        let c = |t| Cidr::parse(t).unwrap();
        assert!(c("192.0.2.0/25").within(c("192.0.2.0/24")));
        assert!(!c("192.0.2.0/24").within(c("192.0.2.0/25")));
        assert!(c("192.0.2.7").within(c("192.0.2.0/24")));
        assert!(c("192.0.2.128/25").disjoint(c("192.0.2.0/25")));
        assert!(c("2001:db8::/48").within(c("2001:db8::/32")));
        assert!(!c("2001:db8::/48").within(c("0.0.0.0/0")));
        assert!(c("10.1.0.0/16").within(c("0.0.0.0/0")));
        assert!(Cidr::parse("192.0.2.0/33").is_none());
        let halves = [c("10.0.0.0/9"), c("10.128.0.0/9")];
        assert!(c("10.0.0.0/8").within_union(&halves));
        assert!(!c("10.0.0.0/8").within_union(&halves[..1]));
        let quarters = [c("10.0.0.0/10"), c("10.64.0.0/10"), c("10.128.0.0/9")];
        assert!(c("10.0.0.0/8").within_union(&quarters));
        assert!(!c("11.0.0.0/8").within_union(&quarters));
        assert!(c("0.0.0.0/0").within_union(&[c("0.0.0.0/1"), c("128.0.0.0/1")]));
        assert!(!c("0.0.0.0/0").within_union(&[c("0.0.0.0/1"), c("128.0.0.0/2")]));
        assert!(c("2001:db8::/32").within_union(&[c("2001:db8::/33"), c("2001:db8:8000::/33")]));
    }

    /// `(inner, outer, inner implies outer)`, each `(operator, values)` on one key.
    #[test]
    #[rustfmt::skip]
    fn implication() {
        type Side = (&'static str, &'static [&'static str]);
        let cases: &[(Side, Side, bool)] = &[
            (("StringEquals", &["a"]), ("StringEquals", &["a", "b"]), true),
            (("StringEquals", &["a", "b"]), ("StringEquals", &["a"]), false),
            (("StringEquals", &["Prod"]), ("StringEqualsIgnoreCase", &["prod"]), true),
            (("StringEqualsIgnoreCase", &["prod"]), ("StringEquals", &["prod"]), false),
            (("StringEqualsIgnoreCase", &["123"]), ("StringEquals", &["123"]), true),
            (("StringLike", &["a"]), ("StringEquals", &["a"]), true),
            (("StringEquals", &["a"]), ("StringLike", &["a"]), true),
            (("StringLike", &["a*"]), ("StringEquals", &["a"]), false),
            (("StringLike", &["ab*"]), ("StringLike", &["a*"]), true),
            (("ArnEquals", &["arn:aws:s3:::b"]), ("ArnLike", &["arn:aws:s3:::*"]), true),
            (("StringNotEquals", &["a", "b"]), ("StringNotEquals", &["a"]), true),
            (("StringNotEquals", &["a"]), ("StringNotEquals", &["a", "b"]), false),
            (("StringEquals", &["c"]), ("StringNotEquals", &["a"]), true),
            (("StringEquals", &["a"]), ("StringNotLike", &["a*"]), false),
            (("StringEqualsIfExists", &["a"]), ("StringEquals", &["a"]), false),
            (("StringEquals", &["a"]), ("StringEqualsIfExists", &["a"]), true),
            (("ForAnyValue:StringEquals", &["a"]), ("StringEquals", &["a"]), false),
            (("NumericLessThanEquals", &["100"]), ("NumericLessThanEquals", &["100.0"]), true),
            (("NumericLessThanEquals", &["100.0"]), ("NumericLessThanEquals", &["100"]), true),
            (("NumericLessThan", &["50"]), ("NumericLessThanEquals", &["100"]), true),
            (("NumericLessThan", &["100"]), ("NumericLessThanEquals", &["100"]), true),
            (("NumericLessThanEquals", &["100"]), ("NumericLessThan", &["100"]), false),
            (("NumericEquals", &["3"]), ("NumericGreaterThan", &["2"]), true),
            (("NumericEquals", &["3"]), ("NumericNotEquals", &["2"]), true),
            (("NumericNotEquals", &["2", "3"]), ("NumericNotEquals", &["2.0"]), true),
            (("NumericLessThan", &["x"]), ("NumericLessThan", &["1"]), false),
            (("DateGreaterThan", &["2026-02-01T00:00:00Z"]), ("DateGreaterThan", &["2026-01-01T00:00:00Z"]), true),
            (("DateGreaterThan", &["2026-01-01T00:00:00Z"]), ("DateGreaterThan", &["2026-02-01T00:00:00Z"]), false),
            (("DateLessThan", &["2026-01-01"]), ("DateLessThan", &["2026-06-01T00:00:00Z"]), true),
            (("IpAddress", &["192.0.2.0/25"]), ("IpAddress", &["192.0.2.0/24"]), true),
            (("IpAddress", &["192.0.2.0/24"]), ("IpAddress", &["192.0.2.0/25"]), false),
            (("IpAddress", &["192.0.2.0/24", "198.51.100.0/24"]), ("IpAddress", &["192.0.0.0/8", "198.51.100.0/24"]), true),
            (("NotIpAddress", &["192.0.2.0/24"]), ("NotIpAddress", &["192.0.2.0/25"]), true),
            (("IpAddress", &["10.0.0.0/8"]), ("NotIpAddress", &["192.0.2.0/24"]), true),
            (("Bool", &["true"]), ("Bool", &["TRUE"]), true),
            (("Bool", &["true"]), ("Bool", &["false"]), false),
            (("Null", &["true"]), ("StringEquals", &["true"]), false),
        ];
        for ((inner_op, inner), (outer_op, outer), expected) in cases {
            let (i, o) = (condition(inner_op, "k", inner), condition(outer_op, "k", outer));
            assert_eq!(implies(&i, &o), *expected, "{inner_op} {inner:?} => {outer_op} {outer:?}");
        }
        assert!(!implies(&condition("StringEquals", "a", &["x"]), &condition("StringEquals", "b", &["x"])));
    }
}
