//! Operator tools behind the command line: `seed` (a data set through the services),
//! `check` (the schema and data agree with the entities), `sweep` (expired rows go) and
//! `backup` (a consistent copy of a live database). None of them serves HTTP.

pub mod backup;
pub mod check;
pub mod seed;
pub mod sweep;
