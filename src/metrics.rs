//! Request metrics of this process: counts, latency and statements per request by method
//! and route, and the database pool, in the Prometheus text format.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use sea_orm::DatabaseConnection;

const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const STATEMENT_BUCKETS: &[f64] = &[
    0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0, 50.0,
];

#[derive(Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    total: u64,
}

impl Histogram {
    fn observe(&mut self, buckets: &[f64], value: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; buckets.len()];
        }
        for (i, upper) in buckets.iter().enumerate() {
            if value <= *upper {
                self.counts[i] += 1;
            }
        }
        self.sum += value;
        self.total += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str, buckets: &[f64]) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, upper) in buckets.iter().enumerate() {
            let n = self.counts.get(i).copied().unwrap_or(0);
            out.push_str(&format!(
                "{name}_bucket{{{labels}{sep}le=\"{upper}\"}} {n}\n"
            ));
        }
        out.push_str(&format!(
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}\n",
            self.total
        ));
        out.push_str(&format!("{name}_sum{{{labels}}} {}\n", self.sum));
        out.push_str(&format!("{name}_count{{{labels}}} {}\n", self.total));
    }
}

#[derive(Default)]
struct MetricsInner {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<(String, String), Histogram>,
    statements: BTreeMap<(String, String), Histogram>,
}

/// Request metrics of this process, rendered in the Prometheus text format.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<MetricsInner>,
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
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
        let Ok(mut m) = self.inner.lock() else { return };
        *m.requests
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
        m.latency
            .entry((method.to_string(), route.to_string()))
            .or_default()
            .observe(LATENCY_BUCKETS, latency.as_secs_f64());
        m.statements
            .entry((method.to_string(), route.to_string()))
            .or_default()
            .observe(STATEMENT_BUCKETS, statements as f64);
    }

    /// The Prometheus text exposition, with the pool gauges of `db`.
    pub fn render(&self, db: &DatabaseConnection) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP relata_http_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE relata_http_requests_total counter\n");
        if let Ok(m) = self.inner.lock() {
            for ((method, route, status), n) in &m.requests {
                out.push_str(&format!(
                    "relata_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}\n",
                    escape_label(method),
                    escape_label(route)
                ));
            }
            out.push_str("# HELP relata_http_request_duration_seconds Time to answer a request.\n");
            out.push_str("# TYPE relata_http_request_duration_seconds histogram\n");
            for ((method, route), h) in &m.latency {
                let labels = format!(
                    "method=\"{}\",route=\"{}\"",
                    escape_label(method),
                    escape_label(route)
                );
                h.render(
                    &mut out,
                    "relata_http_request_duration_seconds",
                    &labels,
                    LATENCY_BUCKETS,
                );
            }
            out.push_str(
                "# HELP relata_db_statements_per_request SQL statements sent per request.\n",
            );
            out.push_str("# TYPE relata_db_statements_per_request histogram\n");
            for ((method, route), h) in &m.statements {
                let labels = format!(
                    "method=\"{}\",route=\"{}\"",
                    escape_label(method),
                    escape_label(route)
                );
                h.render(
                    &mut out,
                    "relata_db_statements_per_request",
                    &labels,
                    STATEMENT_BUCKETS,
                );
            }
        }
        let (size, idle, max) = crate::db::pool_status(db);
        out.push_str("# HELP relata_db_pool_connections Open database connections.\n");
        out.push_str("# TYPE relata_db_pool_connections gauge\n");
        out.push_str(&format!("relata_db_pool_connections {size}\n"));
        out.push_str("# HELP relata_db_pool_idle_connections Idle database connections.\n");
        out.push_str("# TYPE relata_db_pool_idle_connections gauge\n");
        out.push_str(&format!("relata_db_pool_idle_connections {idle}\n"));
        out.push_str("# HELP relata_db_pool_max_connections Largest pool size.\n");
        out.push_str("# TYPE relata_db_pool_max_connections gauge\n");
        out.push_str(&format!("relata_db_pool_max_connections {max}\n"));
        out
    }
}
