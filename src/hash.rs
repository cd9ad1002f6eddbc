//! Hash maps and sets for the large, in-process indexes of a plan (resources by ARN, rows by
//! principal, the IAM catalog's actions): keyed by the stack's own names, looked up tens of
//! thousands of times in a 10,000-resource plan, so hashed with foldhash rather than SipHash.

/// A `HashMap` hashed with foldhash.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// A `HashSet` hashed with foldhash.
pub(crate) type FastSet<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;
