//! Request metrics of this process — requests, latency and statements per request by
//! method and route, and the database pool — through the `metrics` facade, exposed in the
//! Prometheus text format by `metrics-exporter-prometheus`; beside them the build
//! (`relata_build_info`) and the process's CPU time, memory, open files and threads
//! (`process_*`, read from /proc by `metrics-process` at each scrape), and with read
//! replicas each replica's state and lag and where read units ran (`relata_db_replica_*`,
//! `relata_db_read_units_total`, read from the store at each scrape).
//!
//! Each [`Metrics`] owns its recorder and records through it locally
//! (`metrics::with_local_recorder`) instead of installing a process-wide one, so that
//! several applications in one process (the tests run dozens) count separately.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::store::{Replicas, Store};
use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

const REQUESTS: &str = "relata_http_requests_total";
const LATENCY: &str = "relata_http_request_duration_seconds";
const STATEMENTS: &str = "relata_db_statements_per_request";
const POOL_OPEN: &str = "relata_db_pool_connections";
const POOL_IDLE: &str = "relata_db_pool_idle_connections";
const POOL_MAX: &str = "relata_db_pool_max_connections";
const BUILD_INFO: &str = "relata_build_info";
const REPLICA_UP: &str = "relata_db_replica_up";
const REPLICA_LAG_BYTES: &str = "relata_db_replica_lag_bytes";
const REPLICA_LAG_SECONDS: &str = "relata_db_replica_lag_seconds";
const REPLICA_FAILURES: &str = "relata_db_replica_failures_total";
const READ_UNITS: &str = "relata_db_read_units_total";
const REPLICA_STATE: &str = "relata_db_replica_state";
const READ_WAIT: &str = "relata_db_read_server_wait_microseconds_total";
const WAL_POSITIONS: &str = "relata_db_wal_position_statements_total";

const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const STATEMENT_BUCKETS: &[f64] = &[
    0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0, 50.0,
];

/// Requests recorded between two upkeeps of the recorder ([`Metrics::record`]).
const UPKEEP_EVERY: u64 = 1024;

/// The recorder of one application and the handle that renders it.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    process: metrics_process::Collector,
    /// Requests recorded so far.
    recorded: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(LATENCY.into()), LATENCY_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full(STATEMENTS.into()), STATEMENT_BUCKETS)
            })
            // Only an empty bucket list is refused, and these are constants.
            .expect("non-empty histogram buckets")
            .build_recorder();
        let handle = recorder.handle();
        let process = metrics_process::Collector::default();
        metrics::with_local_recorder(&recorder, || {
            process.describe();
            describe_gauge!(
                BUILD_INFO,
                "Always 1; its labels name the version, git revision and API version of this build."
            );
            let build = crate::version::BUILD;
            gauge!(BUILD_INFO, "version" => build.version, "git_revision" => build.git_revision, "api_version" => build.api_version)
                .set(1.0);
            describe_counter!(REQUESTS, "HTTP requests by method, route and status.");
            describe_histogram!(LATENCY, Unit::Seconds, "Time to answer a request.");
            describe_histogram!(STATEMENTS, "SQL statements sent per request.");
            describe_gauge!(POOL_OPEN, "Open database connections.");
            describe_gauge!(POOL_IDLE, "Idle database connections.");
            describe_gauge!(POOL_MAX, "Largest pool size.");
            describe_gauge!(
                REPLICA_UP,
                "1 while the read replica answers in recovery, else 0."
            );
            describe_gauge!(
                REPLICA_STATE,
                "1 for the read replica's state (up, down, unknown, not_a_replica), 0 for the others."
            );
            describe_gauge!(
                REPLICA_LAG_BYTES,
                Unit::Bytes,
                "WAL the primary had written (at its latest sample) that the replica had not replayed."
            );
            describe_gauge!(
                REPLICA_LAG_SECONDS,
                Unit::Seconds,
                "Age of the newest primary WAL position the replica is known to have replayed."
            );
            describe_counter!(
                REPLICA_FAILURES,
                "Statements or connections a read replica failed (each then ran on the primary)."
            );
            describe_counter!(
                READ_UNITS,
                "Read units (a request's reads) by the server they ran on, with read replicas configured."
            );
            describe_counter!(
                READ_WAIT,
                Unit::Microseconds,
                "Time read units spent choosing their server: the primary's WAL position, then waiting for a replica."
            );
            describe_counter!(
                WAL_POSITIONS,
                "Statements sent to the primary for its WAL position (shared by the reads that wait on each)."
            );
        });
        Metrics {
            recorder,
            handle,
            process,
            recorded: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    /// Counts one answered request.
    pub fn record(
        &self,
        method: &str,
        route: &str,
        status: u16,
        latency: Duration,
        statements: usize,
    ) {
        let (method, route) = (method.to_string(), route.to_string());
        metrics::with_local_recorder(&self.recorder, || {
            counter!(REQUESTS, "method" => method.clone(), "route" => route.clone(), "status" => status.to_string())
                .increment(1);
            histogram!(LATENCY, "method" => method.clone(), "route" => route.clone())
                .record(latency.as_secs_f64());
            histogram!(STATEMENTS, "method" => method, "route" => route).record(statements as f64);
        });
        // The exporter queues every histogram sample until an upkeep or a scrape folds
        // it into the buckets, and a recorder made by `build_recorder` runs no upkeep of
        // its own: without scrapes of /metrics the queue grew by each request's two
        // samples for as long as the process ran (bench/README.md, "Memory"). Folding
        // them in every `UPKEEP_EVERY` requests bounds it (tests/metrics_memory.rs).
        if self.recorded.fetch_add(1, Ordering::Relaxed) % UPKEEP_EVERY == UPKEEP_EVERY - 1 {
            self.handle.run_upkeep();
        }
    }

    /// The Prometheus text exposition, with the pool gauges and the read replicas of
    /// `store` and the process's figures read now.
    pub fn render(&self, store: &Store) -> String {
        let (open, idle, max) = crate::store::pool_status(store.connection());
        metrics::with_local_recorder(&self.recorder, || {
            self.process.collect();
            gauge!(POOL_OPEN).set(open);
            gauge!(POOL_IDLE).set(idle as f64);
            gauge!(POOL_MAX).set(max);
            if let Some(replicas) = store.replicas() {
                record_replicas(replicas);
            }
        });
        self.handle.render()
    }
}

/// The replicas' gauges and counters, as they stand (inside the recorder).
fn record_replicas(replicas: &Replicas) {
    for r in replicas.status() {
        gauge!(REPLICA_UP, "replica" => r.label.clone(), "server" => r.place.clone())
            .set(if r.state == "up" { 1.0 } else { 0.0 });
        for state in ["up", "down", "unknown", "not_a_replica"] {
            gauge!(REPLICA_STATE, "replica" => r.label.clone(), "state" => state)
                .set(if state == r.state { 1.0 } else { 0.0 });
        }
        gauge!(REPLICA_LAG_BYTES, "replica" => r.label.clone()).set(r.lag_bytes as f64);
        gauge!(REPLICA_LAG_SECONDS, "replica" => r.label.clone())
            .set(r.lag_seconds.unwrap_or(f64::NAN));
        counter!(REPLICA_FAILURES, "replica" => r.label.clone()).absolute(r.failures);
        counter!(READ_UNITS, "server" => r.label).absolute(r.units);
    }
    counter!(READ_UNITS, "server" => "primary").absolute(replicas.primary_units());
    counter!(READ_WAIT).absolute(replicas.wait_total().as_micros() as u64);
    counter!(WAL_POSITIONS).absolute(replicas.wal_position_statements());
}
