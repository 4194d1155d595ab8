//! Prometheus metrics (`GET /metrics`, OpenMetrics text).
//!
//! [`Metrics`] lives in [`crate::AppState`]; its fields are typed handles that
//! any part of the node increments directly (`state.metrics.lookups.inc()`).
//! A new subsystem adds a field here (registered in [`Metrics::new`]), or,
//! if it lives outside this crate, registers its own metric with
//! [`Metrics::register`] and keeps the handle.
//!
//! Two kinds of values:
//! - **events** counted where they happen: lookups, verdicts by kind, HTTP
//!   requests by route and status, and their latency;
//! - **state** read at scrape time from the mesh and the store
//!   ([`Metrics::refresh`]): connected peers, per-document sync lag, changes
//!   rejected from peers, documents held and NIKs indexed.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Metric, Registry, Unit};

use crate::AppState;

/// Prefix of every metric name.
pub const PREFIX: &str = "kampung";

/// The content type of the OpenMetrics text exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The route label of requests that matched no route (one label value for
/// every unknown path, so a scanner cannot blow up the label set).
pub const UNMATCHED: &str = "unmatched";

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct VerdictLabels {
    /// `resident`, `moved_out`, `deceased`, `non_resident`, `invalid`
    /// ([`kampung_core::Verdict::kind`], from lookups); checkpoint verdicts
    /// add `resident_under_isolation` and `barred`
    /// ([`kampung_core::CheckVerdict::kind`]).
    pub verdict: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    /// The route's template (`/v1/lookup/{nik}`), never the raw path.
    pub route: String,
    pub status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
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
    /// Peers connected now.
    pub peers: Gauge,
    /// Seconds since we last heard from each document's owner (0 for our own).
    pub sync_lag: Family<DocLabels, SecondsGauge>,
    /// Changes and documents from peers that our store refused.
    pub changes_rejected: Counter,
    /// Peers disconnected for having no valid certificate (or a revoked one).
    pub peers_refused: Counter,
    /// Requests or messages from peers that broke a bound or were malformed.
    pub peer_faults: Counter,
    /// Requests refused because the peer had not shown a certificate.
    pub requests_unadmitted: Counter,
    /// Documents this node holds.
    pub documents: Gauge,
    /// Distinct NIKs in the index.
    pub niks: Gauge,
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
        let peer_faults = Counter::default();
        let requests_unadmitted = Counter::default();
        let documents = Gauge::default();
        let niks = Gauge::default();

        let mut r = Registry::with_prefix(PREFIX);
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
            "peer_faults",
            "Requests or messages from peers that were malformed or broke a bound",
            peer_faults.clone(),
        );
        r.register(
            "requests_unadmitted",
            "Requests refused because the peer had not shown a certificate",
            requests_unadmitted.clone(),
        );
        r.register("documents", "Documents this node holds", documents.clone());
        r.register("niks_indexed", "Distinct NIKs in the index", niks.clone());
        Metrics(Arc::new(NodeMetrics {
            registry: Mutex::new(r),
            lookups,
            verdicts,
            http_requests,
            http_duration,
            peers,
            sync_lag,
            changes_rejected,
            peers_refused,
            peer_faults,
            requests_unadmitted,
            documents,
            niks,
        }))
    }

    /// Register a metric of another subsystem under the `kampung_` prefix;
    /// keep (a clone of) `metric` to update it.
    pub fn register(&self, name: &str, help: &str, metric: impl Metric) {
        self.lock().register(name, help, metric);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        // A panic while encoding cannot leave the registry half-changed.
        self.registry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Count one verdict given (by any route).
    pub fn verdict(&self, kind: &str) {
        self.lookups.inc();
        self.verdicts
            .get_or_create(&VerdictLabels {
                verdict: kind.to_string(),
            })
            .inc();
    }

    /// Count one answered HTTP request.
    pub fn request(&self, method: &str, route: &str, status: StatusCode, took: Duration) {
        self.http_requests
            .get_or_create(&RequestLabels {
                method: method.to_string(),
                route: route.to_string(),
                status: status.as_u16(),
            })
            .inc();
        self.http_duration
            .get_or_create(&RouteLabels {
                method: method.to_string(),
                route: route.to_string(),
            })
            .observe(took.as_secs_f64());
    }

    /// Set the state read from the mesh at `now_ms` (unix milliseconds):
    /// connected peers, when each document's owner was last heard, and the
    /// mesh's count of refused remote changes. `own_doc` is the document this
    /// node writes, always current.
    pub fn refresh_mesh(
        &self,
        peers: usize,
        owner_heard_ms: &BTreeMap<String, u64>,
        changes_rejected: u64,
        own_doc: Option<&str>,
        now_ms: u64,
    ) {
        self.peers.set(peers as i64);
        // The mesh's counter only grows while it runs; never go backwards.
        self.changes_rejected
            .inner()
            .fetch_max(changes_rejected, Ordering::Relaxed);
        for (doc, heard) in owner_heard_ms {
            let lag = now_ms.saturating_sub(*heard) as f64 / 1000.0;
            self.sync_lag
                .get_or_create(&DocLabels { doc: doc.clone() })
                .set(lag);
        }
        if let Some(doc) = own_doc {
            self.sync_lag
                .get_or_create(&DocLabels {
                    doc: doc.to_string(),
                })
                .set(0.0);
        }
    }

    /// Set the mesh's trust counters (they only grow while it runs).
    pub fn refresh_trust(&self, c: &kampung_mesh::Counters) {
        for (metric, value) in [
            (&self.peers_refused, c.peers_refused),
            (&self.peer_faults, c.peer_faults),
            (&self.requests_unadmitted, c.requests_unadmitted),
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
        out
    }
}

/// `GET /metrics`: read the mesh and the store, then encode. A stopped mesh
/// or store leaves its values as last read; the scrape still succeeds.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "node",
    responses((status = 200, description = "Prometheus metrics in the OpenMetrics text format", content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8", body = String))
)]
pub async fn handler(State(state): State<AppState>) -> Response {
    let m = &state.metrics;
    if let Ok(mesh) = state.mesh.status().await {
        let own = state.own_village.map(|v| format!("v/{v}"));
        m.refresh_mesh(
            mesh.peers.len(),
            &mesh.owner_heard_ms,
            mesh.counters.changes_rejected,
            own.as_deref(),
            crate::now_ms(),
        );
        m.refresh_trust(&mesh.counters);
    }
    if let (Ok(heads), Ok(niks)) = (state.store.doc_heads().await, state.store.niks().await) {
        m.refresh_store(heads.len(), niks);
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        m.encode(),
    )
        .into_response()
}

/// Middleware on every matched route: count the request and time it by its
/// route template.
pub async fn track(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str)
        .to_string();
    let method = req.method().clone();
    let start = Instant::now();
    let response = next.run(req).await;
    metrics.request(method.as_str(), &route, response.status(), start.elapsed());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heard(list: &[(&str, u64)]) -> BTreeMap<String, u64> {
        list.iter().map(|(d, t)| (d.to_string(), *t)).collect()
    }

    fn lag(m: &Metrics, doc: &str) -> Option<f64> {
        m.sync_lag
            .get(&DocLabels { doc: doc.into() })
            .map(|g| g.get())
    }

    #[test]
    fn sync_lag_is_seconds_since_each_owner_was_heard() {
        let m = Metrics::new();
        let owners = heard(&[("v/35.10.15.2012", 10_000), ("v/35.10.21.2003", 55_500)]);
        m.refresh_mesh(3, &owners, 0, Some("v/35.10.01.2001"), 60_000);
        assert_eq!(lag(&m, "v/35.10.15.2012"), Some(50.0));
        assert_eq!(lag(&m, "v/35.10.21.2003"), Some(4.5));
        assert_eq!(lag(&m, "v/35.10.01.2001"), Some(0.0));
        assert_eq!(lag(&m, "v/35.10.02.2001"), None);
        assert_eq!(m.peers.get(), 3);
        let text = m.encode();
        assert!(
            text.contains("kampung_sync_lag_seconds{doc=\"v/35.10.15.2012\"} 50.0"),
            "{text}"
        );
        assert!(text.contains("kampung_mesh_peers 3"), "{text}");
    }

    #[test]
    fn rejected_changes_follow_the_mesh_counter_and_never_go_back() {
        let m = Metrics::new();
        let none = BTreeMap::new();
        m.refresh_mesh(0, &none, 4, None, 0);
        assert_eq!(m.changes_rejected.get(), 4);
        m.refresh_mesh(0, &none, 2, None, 0);
        assert_eq!(m.changes_rejected.get(), 4);
        m.refresh_mesh(0, &none, 9, None, 0);
        assert_eq!(m.changes_rejected.get(), 9);
        assert!(m
            .encode()
            .contains("kampung_remote_changes_rejected_total 9"));
    }
}
