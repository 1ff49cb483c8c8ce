//! Typed rows, decoded by position from any executor: a SeaORM `QueryResult` (any
//! backend), a rusqlite row (the direct SQLite executor) or a tokio-postgres row (the
//! direct PostgreSQL executor).
//!
//! A row type lists its fields in the order its statement selects them ([`from_row!`]);
//! for entity models that order is the entity's column order, which a unit test checks
//! against the entity, so a column added to an entity and not here fails a test.

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use rusqlite::types::ValueRef;
use sea_orm::{DbErr, QueryResult, TryGetable};

use tokio_postgres::types::{FromSql, Type};

/// A value a row column decodes into, on both executors.
pub trait Column: TryGetable + Sized {
    /// Decodes a value the SQLite C library returned, exactly as sqlx-sqlite would.
    fn from_sqlite(value: ValueRef<'_>) -> Result<Self, DbErr>;

    /// Decodes column `index` of a tokio-postgres row, as sqlx-postgres would.
    fn from_pg(row: &tokio_postgres::Row, index: usize) -> Result<Self, DbErr>;
}

fn type_error(expected: &str, got: ValueRef<'_>) -> DbErr {
    DbErr::Type(format!("expected {expected}, got {:?}", got.data_type()))
}

impl Column for i64 {
    fn from_sqlite(value: ValueRef<'_>) -> Result<Self, DbErr> {
        match value {
            ValueRef::Integer(n) => Ok(n),
            other => Err(type_error("an integer", other)),
        }
    }

    fn from_pg(row: &tokio_postgres::Row, index: usize) -> Result<Self, DbErr> {
        pg_integer(row, index)
    }
}

/// An integer column read into an `i32`, refused when it does not fit.
fn narrow(n: i64) -> Result<i32, DbErr> {
    i32::try_from(n).map_err(|_| DbErr::Type(format!("{n} does not fit an i32")))
}

impl Column for i32 {
    fn from_sqlite(value: ValueRef<'_>) -> Result<Self, DbErr> {
        match value {
            ValueRef::Integer(n) => narrow(n),
            other => Err(type_error("an integer", other)),
        }
    }

    fn from_pg(row: &tokio_postgres::Row, index: usize) -> Result<Self, DbErr> {
        narrow(pg_integer(row, index)?)
    }
}

impl Column for bool {
    fn from_sqlite(value: ValueRef<'_>) -> Result<Self, DbErr> {
        match value {
            ValueRef::Integer(n) => Ok(n != 0),
            other => Err(type_error("a boolean", other)),
        }
    }

    fn from_pg(row: &tokio_postgres::Row, index: usize) -> Result<Self, DbErr> {
        pg_get(row, index)
    }
}

impl Column for String {
    fn from_sqlite(value: ValueRef<'_>) -> Result<Self, DbErr> {
        match value {
            ValueRef::Text(bytes) => std::str::from_utf8(bytes)
                .map(str::to_string)
                .map_err(|e| DbErr::Type(format!("text is not UTF-8: {e}"))),
            other => Err(type_error("text", other)),
        }
    }

    fn from_pg(row: &tokio_postgres::Row, index: usize) -> Result<Self, DbErr> {
        pg_get(row, index)
    }
}

impl Column for DateTime<Utc> {
    fn from_sqlite(value: ValueRef<'_>) -> Result<Self, DbErr> {
        let parsed = match value {
            ValueRef::Text(bytes) => std::str::from_utf8(bytes)
                .ok()
                .and_then(sqlite_time_from_text),
            ValueRef::Integer(secs) => Utc.timestamp_opt(secs, 0).single(),
            _ => None,
        };
        parsed.ok_or_else(|| type_error("a timestamp", value))
    }

    fn from_pg(row: &tokio_postgres::Row, index: usize) -> Result<Self, DbErr> {
        pg_get::<PgTimestamp>(row, index).map(|t| t.0)
    }
}

/// A `timestamptz` as PostgreSQL sends it, microseconds since 2000-01-01 UTC, made a
/// `DateTime` from the Unix epoch in one step; postgres-types' own conversion adds a
/// `Duration` to its epoch, about 200 instructions a timestamp (two per row of a list).
struct PgTimestamp(DateTime<Utc>);

/// 2000-01-01T00:00:00Z in microseconds since the Unix epoch.
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

impl<'a> FromSql<'a> for PgTimestamp {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        let micros = i64::from_be_bytes(raw.try_into()?);
        micros
            .checked_add(PG_EPOCH_MICROS)
            .and_then(DateTime::from_timestamp_micros)
            .map(PgTimestamp)
            .ok_or_else(|| "timestamp out of range".into())
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ
    }
}

impl<T: Column> Column for Option<T> {
    fn from_sqlite(value: ValueRef<'_>) -> Result<Self, DbErr> {
        match value {
            ValueRef::Null => Ok(None),
            other => T::from_sqlite(other).map(Some),
        }
    }

    fn from_pg(row: &tokio_postgres::Row, index: usize) -> Result<Self, DbErr> {
        if pg_is_null(row, index)? {
            Ok(None)
        } else {
            T::from_pg(row, index).map(Some)
        }
    }
}

/// An association row (`link`) and the row it leads to (`other`).
#[derive(Clone, Debug)]
pub struct Linked<L, O> {
    pub link: L,
    pub other: O,
}

// `select_also` selects the link's columns, then the other row's, each in its entity's
// column order.
impl<L: FromRow + Fields, O: FromRow> FromRow for Linked<L, O> {
    fn from_row<R: Row>(row: &R) -> std::result::Result<Self, sea_orm::DbErr> {
        Ok(Linked {
            link: L::from_row(row)?,
            other: O::from_row(&row.skip(L::FIELDS.len()))?,
        })
    }
}

// tokio-postgres columns, read as sqlx-postgres reads them.

/// Whether a column is NULL, whatever its type.
struct IsNullValue(bool);

impl<'a> FromSql<'a> for IsNullValue {
    fn from_sql(_: &Type, _: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(IsNullValue(false))
    }

    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(IsNullValue(true))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// Column `index` of `row`, decoded as tokio-postgres decodes `T` (for [`Column`]).
fn pg_get<'a, T: FromSql<'a>>(row: &'a tokio_postgres::Row, index: usize) -> Result<T, DbErr> {
    row.try_get(index)
        .map_err(|e| DbErr::Type(format!("column {index}: {e}")))
}

/// Whether column `index` of `row` is NULL.
fn pg_is_null(row: &tokio_postgres::Row, index: usize) -> Result<bool, DbErr> {
    pg_get::<IsNullValue>(row, index).map(|v| v.0)
}

/// An integer column of any width (a count is `int8`, a position may be `int4`).
fn pg_integer(row: &tokio_postgres::Row, index: usize) -> Result<i64, DbErr> {
    match row.columns().get(index).map(|c| c.type_()) {
        Some(&Type::INT2) => pg_get::<i16>(row, index).map(i64::from),
        Some(&Type::INT4) => pg_get::<i32>(row, index).map(i64::from),
        _ => pg_get::<i64>(row, index),
    }
}

/// A stored SQLite timestamp, read the way sqlx-sqlite 0.9 reads one (RFC 3339 first,
/// then SQLite's own text forms), so that both executors see the same instant.
fn sqlite_time_from_text(text: &str) -> Option<DateTime<Utc>> {
    if let Some(t) = stored_utc(text.as_bytes()) {
        return Some(t);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    const FORMATS: &[&str] = &[
        "%F %T%.f",
        "%F %R",
        "%F %RZ",
        "%F %R%:z",
        "%F %T%.fZ",
        "%F %T%.f%:z",
        "%FT%R",
        "%FT%RZ",
        "%FT%R%:z",
        "%FT%T%.f",
        "%FT%T%.fZ",
        "%FT%T%.f%:z",
    ];
    FORMATS.iter().find_map(|format| {
        DateTime::<FixedOffset>::parse_from_str(text, format)
            .map(|t| t.with_timezone(&Utc))
            .ok()
            .or_else(|| {
                NaiveDateTime::parse_from_str(text, format)
                    .ok()
                    .map(|t| Utc.from_utc_datetime(&t))
            })
    })
}

/// The form every timestamp is stored in on SQLite (`YYYY-MM-DDTHH:MM:SS`, up to nine
/// fractional digits, then `+00:00` or `Z`), read field by field: chrono's RFC 3339 parser
/// cost about 500 instructions a timestamp, two per row of every list. `None` for any
/// other form, which the general parsers then read.
fn stored_utc(text: &[u8]) -> Option<DateTime<Utc>> {
    let number = |from: usize, to: usize| -> Option<u32> {
        text.get(from..to)?.iter().try_fold(0u32, |n, b| {
            b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
        })
    };
    let at = |i: usize, expected: u8| text.get(i) == Some(&expected);
    if !(at(4, b'-') && at(7, b'-') && at(10, b'T') && at(13, b':') && at(16, b':')) {
        return None;
    }
    let (year, month, day) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
    let (hour, minute, second) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
    let mut end = 19;
    let mut nanos = 0;
    if at(19, b'.') {
        let digits = text[20..].iter().take_while(|b| b.is_ascii_digit()).count();
        if !(1..=9).contains(&digits) {
            return None;
        }
        nanos = number(20, 20 + digits)? * 10u32.pow(9 - digits as u32);
        end = 20 + digits;
    }
    if !matches!(&text[end..], b"Z" | b"+00:00") {
        return None;
    }
    let date = chrono::NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    Some(
        date.and_hms_nano_opt(hour, minute, second, nanos)?
            .and_utc(),
    )
}

/// One row of a result, whichever executor produced it.
pub trait Row {
    /// The value of the `index`th selected column.
    fn get<T: Column>(&self, index: usize) -> Result<T, DbErr>;

    /// This row without its first `n` columns (the second table of a join).
    fn skip(&self, n: usize) -> Skip<'_, Self>
    where
        Self: Sized,
    {
        Skip(self, n)
    }
}

/// A row seen from its `n`th column on.
pub struct Skip<'a, R>(&'a R, usize);

impl<R: Row> Row for Skip<'_, R> {
    fn get<T: Column>(&self, index: usize) -> Result<T, DbErr> {
        self.0.get(index + self.1)
    }
}

impl Row for QueryResult {
    fn get<T: Column>(&self, index: usize) -> Result<T, DbErr> {
        self.try_get_by_index(index)
    }
}

impl Row for rusqlite::Row<'_> {
    fn get<T: Column>(&self, index: usize) -> Result<T, DbErr> {
        let value = self
            .get_ref(index)
            .map_err(|e| DbErr::Type(format!("column {index}: {e}")))?;
        T::from_sqlite(value)
    }
}

impl Row for tokio_postgres::Row {
    fn get<T: Column>(&self, index: usize) -> Result<T, DbErr> {
        T::from_pg(self, index)
    }
}

/// A type built from one row, its fields in the order the statement selects them.
pub trait FromRow: Sized {
    fn from_row<R: Row>(row: &R) -> Result<Self, DbErr>;
}

/// `from_row!(Type { a, b, c })`: `Type` reads `a` from column 0, `b` from 1, and so on,
/// and `Type::FIELDS` names them in that order (for the tests that compare it with the
/// statement or the entity).
#[macro_export]
macro_rules! from_row {
    ($ty:path { $($field:ident),+ $(,)? }) => {
        impl $crate::store::read::FromRow for $ty {
            fn from_row<R: $crate::store::read::Row>(
                row: &R,
            ) -> ::std::result::Result<Self, ::sea_orm::DbErr> {
                let mut index = 0usize;
                let mut next = || {
                    index += 1;
                    index - 1
                };
                Ok(Self { $($field: row.get(next())?),+ })
            }
        }
        impl $crate::store::read::Fields for $ty {
            const FIELDS: &'static [&'static str] = &[$(stringify!($field)),+];
        }
    };
}

/// Decodes rows whose shape is known only at run time (the include loader's, by link).
pub trait Decoder {
    type Out;
    fn decode<R: Row>(&self, row: &R) -> Result<Self::Out, DbErr>;
}

/// The [`Decoder`] of a [`FromRow`] type.
pub struct ByType<T>(std::marker::PhantomData<T>);

impl<T> Default for ByType<T> {
    fn default() -> Self {
        ByType(std::marker::PhantomData)
    }
}

impl<T: FromRow> Decoder for ByType<T> {
    type Out = T;
    fn decode<R: Row>(&self, row: &R) -> Result<T, DbErr> {
        T::from_row(row)
    }
}

/// The field names of a [`FromRow`] type, in column order.
pub trait Fields {
    const FIELDS: &'static [&'static str];
}

/// A single integer column (a count, a key).
impl FromRow for i64 {
    fn from_row<R: Row>(row: &R) -> Result<Self, DbErr> {
        row.get(0)
    }
}

/// A pair of integer columns (a key and its count).
impl FromRow for (i64, i64) {
    fn from_row<R: Row>(row: &R) -> Result<Self, DbErr> {
        Ok((row.get(0)?, row.get(1)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;

    #[test]
    fn stored_timestamps_read_as_sqlx_reads_them() {
        let rfc = sqlite_time_from_text("2026-11-25T12:34:56.123456+00:00").unwrap();
        assert_eq!(crate::time::format(&rfc), "2026-11-25T12:34:56.123456Z");
        let plain = sqlite_time_from_text("2026-11-25 12:34:56.5").unwrap();
        assert_eq!(crate::time::format(&plain), "2026-11-25T12:34:56.500000Z");
        assert!(sqlite_time_from_text("yesterday").is_none());
    }

    #[test]
    fn pg_timestamps_decode_as_postgres_types_decodes_them() {
        let mut micros: i64 = -63_000_000_000_000_000;
        while micros < 250_000_000_000_000_000 {
            let raw = micros.to_be_bytes();
            let ours = PgTimestamp::from_sql(&Type::TIMESTAMPTZ, &raw).unwrap().0;
            let theirs: DateTime<Utc> = FromSql::from_sql(&Type::TIMESTAMPTZ, &raw).unwrap();
            assert_eq!(ours, theirs, "{micros}");
            micros += 98_765_432_123_457;
        }
        assert!(PgTimestamp::from_sql(&Type::TIMESTAMPTZ, &i64::MAX.to_be_bytes()).is_err());
        assert!(PgTimestamp::from_sql(&Type::TIMESTAMPTZ, &[0, 1]).is_err());
    }

    #[test]
    fn the_stored_form_reads_as_chrono_reads_it() {
        let mut t = Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap();
        let mut step = chrono::Duration::microseconds(123_456_789_012_345);
        for i in 0..2_000 {
            for secs in [
                chrono::SecondsFormat::AutoSi,
                chrono::SecondsFormat::Secs,
                chrono::SecondsFormat::Millis,
                chrono::SecondsFormat::Nanos,
            ] {
                let text = t.to_rfc3339_opts(secs, i % 2 == 0);
                let expected = DateTime::parse_from_rfc3339(&text).map(|t| t.to_utc());
                assert_eq!(stored_utc(text.as_bytes()), expected.ok(), "{text}");
            }
            t += step;
            step += chrono::Duration::nanoseconds(1_234_567);
            if t.year() > 9000 {
                t = Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap();
            }
        }
        for other in [
            "2026-11-25T12:34:56+01:00",
            "2026-11-25 12:34:56",
            "2026-11-25T12:34:60Z",
            "2026-02-30T12:34:56Z",
            "2026-11-25T12:34:56.Z",
            "2026-11-25T12:34:56.1234567890Z",
            "2026-11-25T12:34:56Zx",
        ] {
            assert_eq!(stored_utc(other.as_bytes()), None, "{other}");
        }
    }
}
