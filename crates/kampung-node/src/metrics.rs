//! The node's Prometheus metrics (served at `GET /metrics` as OpenMetrics
//! text, or in Prometheus' classic text format when a scraper asks for it:
//! [`Metrics::encode_prometheus`]).
//!
//! [`Metrics`] lives in the [`crate::Node`]; its fields are typed handles that
//! any part of the node increments directly (`node.metrics().lookups.inc()`).
//! A new subsystem adds a field here (registered in [`Metrics::new`]), or,
//! if it lives outside this crate, registers its own metric with
//! [`Metrics::register`] and keeps the handle.
//!
//! Two kinds of values:
//! - **events** counted where they happen: lookups, verdicts by kind, HTTP
//!   requests by route and status, and their latency;
//! - **state** read at scrape time from the mesh and the store
//!   ([`crate::Node::refresh_metrics`]): connected peers, per-document sync
//!   lag (every village's, `+Inf` for one never heard from), changes
//!   rejected from peers, documents held and NIKs indexed, the store's
//!   bytes on disk, and the process's CPU time, memory and open files
//!   (under the usual `process_` names, without the `kampung_` prefix).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Metric, Registry, Unit};

/// Prefix of every metric name.
pub const PREFIX: &str = "kampung";

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct VerdictLabels {
    /// [`kampung_core::CheckVerdict::kind`]: `resident`,
    /// `resident_under_isolation`, `moved_out`, `deceased`, `non_resident`,
    /// `barred`, `invalid`.
    pub verdict: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RequestLabels {
    /// `GET`, `POST`, ... or `other`: a bounded set.
    pub method: &'static str,
    /// The route's template (`/v1/lookup/{nik}`), never the raw path.
    pub route: String,
    pub status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: &'static str,
    pub route: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct DocLabels {
    /// The document, `v/35.10.15.2012`.
    pub doc: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;
/// A gauge of seconds.
pub type SecondsGauge = Gauge<f64, AtomicU64>;

fn latency_histogram() -> Histogram {
    // 0.1 ms .. ~3.3 s: a lookup is microseconds plus HTTP; a large write is seconds.
    Histogram::new(exponential_buckets(0.000_1, 2.0, 16))
}

/// The node's metrics. Cheap to clone: one shared handle on [`NodeMetrics`].
#[derive(Debug, Clone)]
pub struct Metrics(Arc<NodeMetrics>);

impl std::ops::Deref for Metrics {
    type Target = NodeMetrics;
    fn deref(&self) -> &NodeMetrics {
        &self.0
    }
}

/// (method, status) -> route -> its request counter and duration histogram.
type HttpHandles = std::collections::HashMap<
    (&'static str, u16),
    std::collections::HashMap<String, (Counter, Histogram)>,
>;

/// Every metric of the node, each updated where it happens.
#[derive(Debug)]
pub struct NodeMetrics {
    registry: Mutex<Registry>,
    /// Lookups answered (any verdict).
    pub lookups: Counter,
    /// Verdicts given, by kind.
    pub verdicts: Family<VerdictLabels, Counter>,
    /// HTTP requests answered, by method, route and status.
    pub http_requests: Family<RequestLabels, Counter>,
    /// Time to answer HTTP requests, by method and route.
    pub http_duration: HistogramFamily<RouteLabels>,
    /// The counter and histogram of each method, status and route answered
    /// so far, found without making their labels (two strings a request:
    /// allocations under tens of thousands of verdicts a second). Routes
    /// are templates, so the set is bounded.
    http_handles: std::sync::RwLock<HttpHandles>,
    /// Peers connected now.
    pub peers: Gauge,
    /// Seconds since we last heard from each document's owner (0 for our own).
    pub sync_lag: Family<DocLabels, SecondsGauge>,
    /// Changes and documents from peers that our store refused.
    pub changes_rejected: Counter,
    /// Peers disconnected for having no valid certificate (or a revoked one).
    pub peers_refused: Counter,
    /// Peers disconnected to make room: the node held more than twice the peers it dials.
    pub peers_trimmed: Counter,
    /// Connections to peers established, either way.
    pub connections_opened: Counter,
    /// Crossing logs and cases dropped at the end of their retention period.
    pub documents_expired: Counter,
    /// Requests or messages from peers that broke a bound or were malformed.
    pub peer_faults: Counter,
    /// Requests refused because the peer had not shown a certificate.
    pub requests_unadmitted: Counter,
    pub requests_beyond_scope: Counter,
    /// Documents this node holds.
    pub documents: Gauge,
    /// Resident records added or changed by this node's writes.
    pub resident_writes: Counter,
    /// Checks logged in this node's crossing log.
    pub crossings_logged: Counter,
    /// Isolation case openings and updates written by this node.
    pub case_writes: Counter,
    /// Distinct NIKs in the index.
    pub niks: Gauge,
    /// The median of peers' clocks minus this node's, in seconds.
    pub clock_offset: SecondsGauge,
    /// 1 while this node refuses to sign writes for its clock, else 0.
    pub clock_off: Gauge,
    /// Seconds until this node's certificate (with its renewals) ends.
    pub certificate_left: SecondsGauge,
    /// Other nodes whose certificates end within 30 days with no renewal.
    pub peer_certificates_expiring: Gauge,
    /// Bytes of the store on disk (allocated).
    pub store_bytes: Gauge,
    process: ProcessGauges,
}

/// The process's own figures (`process_*`), set at each scrape.
#[derive(Debug, Default)]
struct ProcessGauges {
    cpu: Counter<f64, AtomicU64>,
    resident: Gauge,
    open_fds: Gauge,
    max_fds: Gauge,
    start_time: SecondsGauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let lookups = Counter::default();
        let verdicts = Family::default();
        let http_requests = Family::default();
        let http_duration: HistogramFamily<RouteLabels> =
            Family::new_with_constructor(latency_histogram);
        let peers = Gauge::default();
        let sync_lag = Family::default();
        let changes_rejected = Counter::default();
        let peers_refused = Counter::default();
        let peers_trimmed = Counter::default();
        let connections_opened = Counter::default();
        let documents_expired = Counter::default();
        let peer_faults = Counter::default();
        let requests_unadmitted = Counter::default();
        let requests_beyond_scope = Counter::default();
        let documents = Gauge::default();
        let resident_writes = Counter::default();
        let crossings_logged = Counter::default();
        let case_writes = Counter::default();
        let niks = Gauge::default();
        let clock_offset = SecondsGauge::default();
        let clock_off = Gauge::default();
        let certificate_left = SecondsGauge::default();
        let store_bytes = Gauge::default();
        let peer_certificates_expiring = Gauge::default();
        let process = ProcessGauges::default();
        process.start_time.set(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
        );

        let mut root = Registry::default();
        process.register(&mut root);
        let r = root.sub_registry_with_prefix(PREFIX);
        r.register(
            "build",
            "The node's version, the commit it was built from and that commit's date",
            prometheus_client::metrics::info::Info::new(vec![
                ("version", env!("CARGO_PKG_VERSION")),
                ("commit", env!("KAMPUNG_COMMIT")),
                ("commit_date", env!("KAMPUNG_COMMIT_DATE")),
            ]),
        );
        r.register("lookups", "NIK lookups answered", lookups.clone());
        r.register("verdicts", "Verdicts given, by kind", verdicts.clone());
        r.register(
            "http_requests",
            "HTTP requests answered, by method, route and status",
            http_requests.clone(),
        );
        r.register_with_unit(
            "http_request_duration",
            "Time to answer HTTP requests, by method and route",
            Unit::Seconds,
            http_duration.clone(),
        );
        r.register("mesh_peers", "Peers connected now", peers.clone());
        r.register_with_unit(
            "sync_lag",
            "Time since we last heard from each document's owner (directly or by gossip); 0 for this node's own document; absent if never heard",
            Unit::Seconds,
            sync_lag.clone(),
        );
        r.register(
            "remote_changes_rejected",
            "Changes or documents from peers that the store refused to apply",
            changes_rejected.clone(),
        );
        r.register(
            "peers_refused",
            "Peers disconnected for having no valid certificate, or a revoked or expired one",
            peers_refused.clone(),
        );
        r.register(
            "peers_trimmed",
            "Peers disconnected to make room for newcomers: the node held more than twice the peers it dials",
            peers_trimmed.clone(),
        );
        r.register(
            "connections_opened",
            "Connections to peers established, dialled or accepted (with peers_trimmed: how much the node's peers churn)",
            connections_opened.clone(),
        );
        r.register(
            "documents_expired",
            "Documents dropped from this node: crossing logs of a month and closed isolation cases at the end of the policy's retention period, and documents the policy in force no longer lets it hold",
            documents_expired.clone(),
        );
        r.register(
            "peer_faults",
            "Requests or messages from peers that were malformed or broke a bound",
            peer_faults.clone(),
        );
        r.register(
            "requests_unadmitted",
            "Requests refused because the peer had not shown a certificate",
            requests_unadmitted.clone(),
        );
        r.register(
            "requests_beyond_scope",
            "Requests from peers for a document their certificate does not let them read (refused, the peer disconnected)",
            requests_beyond_scope.clone(),
        );
        r.register("documents", "Documents this node holds", documents.clone());
        r.register(
            "resident_writes",
            "Resident records added or changed by this node's writes",
            resident_writes.clone(),
        );
        r.register(
            "crossings_logged",
            "Checks logged in this node's crossing log",
            crossings_logged.clone(),
        );
        r.register(
            "case_writes",
            "Isolation case openings and updates written by this node",
            case_writes.clone(),
        );
        r.register("niks_indexed", "Distinct NIKs in the index", niks.clone());
        r.register_with_unit(
            "clock_peer_offset",
            "The median of the measured peers' clocks minus this node's (positive: this node is behind)",
            Unit::Seconds,
            clock_offset.clone(),
        );
        r.register(
            "clock_off",
            "1 while this node signs no writes because its clock is off from its peers' or before its certificate",
            clock_off.clone(),
        );
        r.register_with_unit(
            "certificate_expiry",
            "Time until this node's certificate (carried on by renewals that start before it ends) expires",
            Unit::Seconds,
            certificate_left.clone(),
        );
        r.register(
            "peer_certificates_expiring",
            "Other nodes whose certificates end within 30 days with no renewal yet",
            peer_certificates_expiring.clone(),
        );
        r.register_with_unit(
            "store_size",
            "Bytes the node's store takes on disk",
            Unit::Bytes,
            store_bytes.clone(),
        );
        Metrics(Arc::new(NodeMetrics {
            registry: Mutex::new(root),
            lookups,
            verdicts,
            http_requests,
            http_duration,
            http_handles: std::sync::RwLock::default(),
            peers,
            sync_lag,
            changes_rejected,
            peers_refused,
            peers_trimmed,
            connections_opened,
            documents_expired,
            peer_faults,
            requests_unadmitted,
            requests_beyond_scope,
            documents,
            resident_writes,
            crossings_logged,
            case_writes,
            niks,
            clock_offset,
            clock_off,
            certificate_left,
            store_bytes,
            peer_certificates_expiring,
            process,
        }))
    }

    /// Register a metric of another subsystem under the `kampung_` prefix;
    /// keep (a clone of) `metric` to update it.
    pub fn register(&self, name: &str, help: &str, metric: impl Metric) {
        self.lock()
            .sub_registry_with_prefix(PREFIX)
            .register(name, help, metric);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        // A panic while encoding cannot leave the registry half-changed.
        self.registry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Count one verdict given (by any route).
    pub fn verdict(&self, kind: &'static str) {
        self.lookups.inc();
        self.verdicts
            .get_or_create(&VerdictLabels { verdict: kind })
            .inc();
    }

    /// Count one answered HTTP request.
    pub fn request(&self, method: &'static str, route: &str, status: u16, took: Duration) {
        let secs = took.as_secs_f64();
        {
            let handles = self
                .http_handles
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((count, time)) = handles.get(&(method, status)).and_then(|r| r.get(route)) {
                count.inc();
                time.observe(secs);
                return;
            }
        }
        let count = self
            .http_requests
            .get_or_create(&RequestLabels {
                method,
                route: route.to_string(),
                status,
            })
            .clone();
        let time = self
            .http_duration
            .get_or_create(&RouteLabels {
                method,
                route: route.to_string(),
            })
            .clone();
        count.inc();
        time.observe(secs);
        self.http_handles
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry((method, status))
            .or_default()
            .insert(route.to_string(), (count, time));
    }

    /// Set the state read from the mesh: connected peers and the mesh's
    /// count of refused remote changes.
    pub fn refresh_mesh(&self, peers: usize, changes_rejected: u64) {
        self.peers.set(peers as i64);
        // The mesh's counter only grows while it runs; never go backwards.
        self.changes_rejected
            .inner()
            .fetch_max(changes_rejected, Ordering::Relaxed);
    }

    /// Set how old our copy of each document is (see
    /// [`crate::Node::copy_ages`]: 0 for this node's own), and `+Inf` for
    /// each of the regency's villages never heard from.
    pub fn refresh_sync_lag<'a>(
        &self,
        ages: impl IntoIterator<Item = (&'a kampung_core::DocId, Duration)>,
    ) {
        let mut heard = std::collections::HashSet::new();
        for (doc, age) in ages {
            heard.insert(doc.clone());
            self.sync_lag
                .get_or_create(&DocLabels {
                    doc: doc.to_string(),
                })
                .set(age.as_secs_f64());
        }
        for village in kampung_core::banyuwangi::villages() {
            let doc = kampung_core::DocId::card(village.code);
            if !heard.contains(&doc) {
                self.sync_lag
                    .get_or_create(&DocLabels {
                        doc: doc.to_string(),
                    })
                    .set(f64::INFINITY);
            }
        }
    }

    /// Read this process's CPU time, memory and open files, and the bytes
    /// of the store under `data_dir` (each left as last read if it cannot
    /// be read now).
    pub fn refresh_process(&self, data_dir: Option<&std::path::Path>) {
        let p = &self.process;
        if let Ok(cpu) = crate::process::cpu_seconds() {
            let delta = cpu - p.cpu.get();
            if delta > 0.0 {
                p.cpu.inc_by(delta);
            }
        }
        if let Ok(m) = crate::process::memory() {
            p.resident.set(i64::try_from(m.rss).unwrap_or(i64::MAX));
        }
        if let Ok((open, max)) = crate::process::open_files() {
            p.open_fds.set(i64::try_from(open).unwrap_or(i64::MAX));
            if let Some(max) = max {
                p.max_fds.set(i64::try_from(max).unwrap_or(i64::MAX));
            }
        }
        if let Some(Ok(store)) = data_dir.map(|d| crate::process::disk_usage(&d.join("store"))) {
            self.store_bytes
                .set(i64::try_from(store.allocated).unwrap_or(i64::MAX));
        }
    }

    /// Set the clock's state (see [`crate::Node::clock_check`]).
    pub fn refresh_clock(&self, c: &crate::ClockCheck) {
        self.clock_offset
            .set(c.peer_offset_ms.unwrap_or_default() as f64 / 1000.0);
        self.clock_off.set(i64::from(c.problem.is_some()));
    }

    /// Set the mesh's trust counters (they only grow while it runs).
    pub fn refresh_trust(&self, c: &kampung_mesh::Counters) {
        for (metric, value) in [
            (&self.peers_refused, c.peers_refused),
            (&self.peers_trimmed, c.peers_trimmed),
            (&self.connections_opened, c.connections_opened),
            (&self.peer_faults, c.peer_faults),
            (&self.requests_unadmitted, c.requests_unadmitted),
            (&self.requests_beyond_scope, c.requests_beyond_scope),
        ] {
            metric.inner().fetch_max(value, Ordering::Relaxed);
        }
    }

    /// Set the state read from the store.
    pub fn refresh_store(&self, documents: usize, niks: usize) {
        self.documents.set(documents as i64);
        self.niks.set(niks as i64);
    }

    /// The OpenMetrics text of every registered metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.lock()) {
            tracing::warn!(error = %e, "could not encode the metrics");
        }
        // Both text formats spell infinity `+Inf` (a village never heard
        // from); prometheus-client writes Rust's `inf`.
        if out.contains(" inf\n") || out.contains(" -inf\n") {
            out = out
                .replace(" inf\n", " +Inf\n")
                .replace(" -inf\n", " -Inf\n");
        }
        out
    }

    /// The same in Prometheus' classic text format (0.0.4), for scrapers
    /// that ask for `text/plain`: a counter's HELP and TYPE name its
    /// `_total` series, an info metric is a gauge named `…_info`, and
    /// OpenMetrics' `# UNIT` and `# EOF` lines are left out.
    pub fn encode_prometheus(&self) -> String {
        to_prometheus_text(&self.encode())
    }
}

/// OpenMetrics text (as prometheus-client writes it) to Prometheus 0.0.4 text.
fn to_prometheus_text(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len());
    let mut types: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            if let Some((name, kind)) = rest.split_once(' ') {
                types.insert(name, kind);
            }
        }
    }
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let meta = line
            .strip_prefix("# HELP ")
            .map(|r| ("HELP", r))
            .or_else(|| line.strip_prefix("# TYPE ").map(|r| ("TYPE", r)));
        let Some((what, rest)) = meta else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
        let (name, tail) = match types.get(name).copied() {
            Some("counter") => (format!("{name}_total"), tail),
            Some("info") if what == "TYPE" => (format!("{name}_info"), "gauge"),
            Some("info") => (format!("{name}_info"), tail),
            Some("unknown") if what == "TYPE" => (name.to_string(), "untyped"),
            _ => (name.to_string(), tail),
        };
        out.push_str(&format!("# {what} {name} {tail}\n"));
    }
    out
}

impl ProcessGauges {
    fn register(&self, r: &mut Registry) {
        r.register_with_unit(
            "process_cpu",
            "CPU time used by the node's process, user and system",
            Unit::Seconds,
            self.cpu.clone(),
        );
        r.register_with_unit(
            "process_resident_memory",
            "Resident memory of the node's process",
            Unit::Bytes,
            self.resident.clone(),
        );
        r.register(
            "process_open_fds",
            "Open file descriptors (network connections included)",
            self.open_fds.clone(),
        );
        r.register(
            "process_max_fds",
            "The most file descriptors the process may open",
            self.max_fds.clone(),
        );
        r.register_with_unit(
            "process_start_time",
            "When the process started (unix time)",
            Unit::Seconds,
            self.start_time.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kampung_core::{DocId, VillageCode};

    fn lag(m: &Metrics, doc: &DocId) -> Option<f64> {
        m.sync_lag
            .get(&DocLabels {
                doc: doc.to_string(),
            })
            .map(|g| g.get())
    }

    #[test]
    fn sync_lag_is_the_age_of_each_copy() {
        let m = Metrics::new();
        let doc = |c: &str| DocId::card(VillageCode::parse(c).unwrap());
        let (a, b, own, never) = (
            doc("35.10.15.2012"),
            doc("35.10.21.2003"),
            doc("35.10.01.2001"),
            doc("35.10.02.2001"),
        );
        m.refresh_sync_lag([
            (&a, Duration::from_secs(50)),
            (&b, Duration::from_millis(4500)),
            (&own, Duration::ZERO),
        ]);
        m.refresh_mesh(3, 0);
        assert_eq!(lag(&m, &a), Some(50.0));
        assert_eq!(lag(&m, &b), Some(4.5));
        assert_eq!(lag(&m, &own), Some(0.0));
        assert_eq!(
            lag(&m, &never),
            Some(f64::INFINITY),
            "a village never heard from"
        );
        assert_eq!(m.peers.get(), 3);
        let text = m.encode();
        assert!(
            text.contains("kampung_sync_lag_seconds{doc=\"k/35.10.15.2012\"} 50.0"),
            "{text}"
        );
        assert!(text.contains("kampung_mesh_peers 3"), "{text}");
    }

    #[test]
    fn the_classic_text_names_counters_and_info_as_prometheus_does() {
        let m = Metrics::new();
        m.verdict("resident");
        m.refresh_process(None);
        m.refresh_sync_lag(std::iter::empty());
        let open = m.encode();
        assert!(
            open.contains("# TYPE process_cpu_seconds counter"),
            "{open}"
        );
        assert!(open.contains("# TYPE kampung_build info"), "{open}");
        let text = m.encode_prometheus();
        for line in [
            "# TYPE kampung_lookups_total counter",
            "kampung_lookups_total 1",
            "# TYPE kampung_build_info gauge",
            "# HELP kampung_build_info The node's version",
            "# TYPE process_cpu_seconds_total counter",
            "# TYPE process_resident_memory_bytes gauge",
            "# TYPE kampung_sync_lag_seconds gauge",
        ] {
            assert!(text.contains(line), "no {line:?} in:\n{text}");
        }
        assert!(
            !text.contains("# EOF") && !text.contains("# UNIT"),
            "{text}"
        );
        let rss = text
            .lines()
            .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))
            .and_then(|v| v.parse::<f64>().ok())
            .expect("resident memory");
        assert!(rss > 0.0);
    }

    #[test]
    fn requests_are_counted_and_timed_by_method_route_and_status() {
        let m = Metrics::new();
        let ms = Duration::from_millis;
        m.request("GET", "/v1/verdict/{nik}", 200, ms(1));
        m.request("GET", "/v1/verdict/{nik}", 200, ms(3));
        m.request("GET", "/v1/verdict/{nik}", 403, ms(1));
        m.request("POST", "/v1/crossings", 200, ms(20));
        let text = m.encode_prometheus();
        for line in [
            r#"kampung_http_requests_total{method="GET",route="/v1/verdict/{nik}",status="200"} 2"#,
            r#"kampung_http_requests_total{method="GET",route="/v1/verdict/{nik}",status="403"} 1"#,
            r#"kampung_http_requests_total{method="POST",route="/v1/crossings",status="200"} 1"#,
            r#"kampung_http_request_duration_seconds_count{method="GET",route="/v1/verdict/{nik}"} 3"#,
            r#"kampung_http_request_duration_seconds_count{method="POST",route="/v1/crossings"} 1"#,
        ] {
            assert!(text.contains(line), "no {line:?} in:\n{text}");
        }
    }

    #[test]
    fn rejected_changes_follow_the_mesh_counter_and_never_go_back() {
        let m = Metrics::new();
        m.refresh_mesh(0, 4);
        assert_eq!(m.changes_rejected.get(), 4);
        m.refresh_mesh(0, 2);
        assert_eq!(m.changes_rejected.get(), 4);
        m.refresh_mesh(0, 9);
        assert_eq!(m.changes_rejected.get(), 9);
        assert!(m
            .encode()
            .contains("kampung_remote_changes_rejected_total 9"));
    }
}
