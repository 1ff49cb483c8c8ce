//! Timestamps: one clock for every row, at microsecond precision.
//!
//! PostgreSQL keeps microseconds, so every timestamp is truncated to them when it is
//! made; a timestamp read back from a cursor then compares equal to the stored one on
//! both databases, which keyset pagination relies on.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};

/// Now, truncated to microseconds.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// The wire form of a timestamp: RFC 3339 in UTC with a `Z`.
pub fn format(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parses the wire form back.
pub fn parse(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
