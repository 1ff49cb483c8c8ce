//! Request metrics of this process — requests, latency and statements per request by
//! method and route, and the database pool — through the `metrics` facade, exposed in the
//! Prometheus text format by `metrics-exporter-prometheus`; beside them the build
//! (`relata_build_info`) and the process's CPU time, memory, open files and threads
//! (`process_*`, read from /proc by `metrics-process` at each scrape).
//!
//! Each [`Metrics`] owns its recorder and records through it locally
//! (`metrics::with_local_recorder`) instead of installing a process-wide one, so that
//! several applications in one process (the tests run dozens) count separately.

use std::time::Duration;

use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use sea_orm::DatabaseConnection;

const REQUESTS: &str = "relata_http_requests_total";
const LATENCY: &str = "relata_http_request_duration_seconds";
const STATEMENTS: &str = "relata_db_statements_per_request";
const POOL_OPEN: &str = "relata_db_pool_connections";
const POOL_IDLE: &str = "relata_db_pool_idle_connections";
const POOL_MAX: &str = "relata_db_pool_max_connections";
const BUILD_INFO: &str = "relata_build_info";

const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const STATEMENT_BUCKETS: &[f64] = &[
    0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0, 50.0,
];

/// The recorder of one application and the handle that renders it.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    process: metrics_process::Collector,
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
        });
        Metrics {
            recorder,
            handle,
            process,
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
    }

    /// The Prometheus text exposition, with the pool gauges of `db` and the process's
    /// figures read now.
    pub fn render(&self, db: &DatabaseConnection) -> String {
        let (open, idle, max) = crate::store::pool_status(db);
        metrics::with_local_recorder(&self.recorder, || {
            self.process.collect();
            gauge!(POOL_OPEN).set(open);
            gauge!(POOL_IDLE).set(idle as f64);
            gauge!(POOL_MAX).set(max);
        });
        self.handle.render()
    }
}
