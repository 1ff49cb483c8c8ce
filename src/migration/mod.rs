//! The schema of SPEC §2 as sea-orm-migration migrations, run by `relata serve` and
//! `relata migrate` on SQLite and PostgreSQL alike.
//!
//! Every foreign key carries its real `ON DELETE` action here (the entity attributes only
//! describe it), and every foreign-key column leads some index (invariant I1), which
//! `relata check` verifies against the live database.

use sea_orm_migration::prelude::*;

mod m0001_init;
mod m0002_relations;
mod m0003_sessions;
pub mod m0004_post_counts;
mod m0005_counters_per_statement;

/// `users` and its key, which the later migrations' foreign keys point at.
#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

/// The ordered list of Relata's migrations.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_init::Migration),
            Box::new(m0002_relations::Migration),
            Box::new(m0003_sessions::Migration),
            Box::new(m0004_post_counts::Migration),
            Box::new(m0005_counters_per_statement::Migration),
        ]
    }
}
