//! Node configuration (`kampung run --config kampung.toml`; `kampung config check FILE`).
//!
//! Every field has a default, so an empty file is a valid configuration for a
//! node on a LAN. See `node/kampung.example.toml`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The node's data directory (made by `kampung init`).
    pub data: PathBuf,
    pub network: Network,
    pub api: Api,
    pub limits: Limits,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Network {
    /// libp2p listen addresses (TCP and QUIC).
    pub listen: Vec<String>,
    /// Peers to dial at start and redial (with backoff) while disconnected.
    pub bootstrap: Vec<String>,
    /// Discover peers on the local network.
    pub mdns: bool,
    /// Discover peers beyond the bootstrap list through Kademlia.
    pub kademlia: bool,
    /// Seconds between digest comparisons with each peer (with more than
    /// eight peers: eight sessions in this time, the peers compared longest ago).
    pub anti_entropy_secs: u64,
    /// Seconds between an owner's heartbeat announcements: how fresh a
    /// copy can be shown to be (a page calls a copy stale after an hour).
    /// Every node receives every owner's heartbeat a few times, the one
    /// idle cost that grows with the mesh (docs/scale.md).
    pub heartbeat_secs: u64,
    /// Most peers to connect to.
    pub max_peers: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Api {
    /// Address of the API and the pages. A non-loopback address is served
    /// only over TLS (or with `insecure_http`).
    pub listen: String,
    /// Host names (or addresses) the pages are reached by besides loopback,
    /// e.g. `pos-ketapang.lan` or `192.168.10.5`; a request for any other
    /// name is refused (DNS rebinding).
    pub hosts: Vec<String>,
    /// TLS certificate (PEM) and key: made by `kampung init` in the data
    /// directory (`tls.crt`, `tls.key`) when not given.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Serve a non-loopback address over plain HTTP (passwords and
    /// sessions then travel in clear text on the LAN). Logged loudly.
    pub insecure_http: bool,
    /// Hours a signed-in session lasts unused (a shift).
    pub session_idle_hours: u64,
    /// `/metrics` answers loopback without credentials (a local Prometheus).
    pub metrics_open_on_loopback: bool,
    /// Days the access log keeps look-ups.
    pub access_log_days: u32,
    /// Look-ups the access log keeps at most (the oldest go first).
    pub access_log_max_entries: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest message accepted from a peer.
    pub max_message_bytes: usize,
    /// Anti-entropy sessions at once.
    pub max_sessions: usize,
    /// Peer requests served at once.
    pub max_inbound_requests: usize,
    /// Seconds before a request to a peer is abandoned.
    pub request_timeout_secs: u64,
    /// Threads that run the mesh and the pages (tokio's workers; 2 unless
    /// set, whatever the machine's cores). The store, imports and
    /// compaction have threads of their own, and a verdict takes about
    /// 17 µs of one. With 1, an idle node of a 100-node mesh sharing this
    /// project's 2-core test machine spent 0.55-0.60 % of a core instead of
    /// 0.70-0.75 % and held 48 MB instead of 51-53 MB, but a registration
    /// took longer to reach every node there, p50 0.7-1.0 s against
    /// 0.3-0.6 s (BENCHMARKS-regency-mesh.md).
    pub async_threads: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data: PathBuf::from("./kampung-data"),
            network: Network::default(),
            api: Api::default(),
            limits: Limits::default(),
        }
    }
}

impl Default for Network {
    fn default() -> Self {
        Network {
            listen: vec![
                "/ip4/0.0.0.0/tcp/7400".into(),
                "/ip4/0.0.0.0/udp/7400/quic-v1".into(),
            ],
            bootstrap: Vec::new(),
            mdns: true,
            kademlia: true,
            anti_entropy_secs: 30,
            heartbeat_secs: 300,
            max_peers: 16,
        }
    }
}

impl Default for Api {
    fn default() -> Self {
        Api {
            listen: "127.0.0.1:7480".into(),
            hosts: Vec::new(),
            tls_cert: None,
            tls_key: None,
            insecure_http: false,
            session_idle_hours: 12,
            metrics_open_on_loopback: true,
            access_log_days: 365,
            access_log_max_entries: 1_000_000,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 4 << 20,
            max_sessions: 8,
            max_inbound_requests: 32,
            request_timeout_secs: 30,
            async_threads: 2,
        }
    }
}

/// A configuration problem: which file, which field, what is wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{path}: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

impl Config {
    /// Read and check a TOML file. Relative paths in it (`data`,
    /// `api.tls_cert`, `api.tls_key`) are taken from the file's folder, so
    /// the node finds the same files wherever it is started from.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let mut config = Self::parse(&text).map_err(|e| match e {
            ConfigError::Parse { reason, .. } => ConfigError::Parse {
                path: path.to_path_buf(),
                reason,
            },
            other => other,
        })?;
        let folder = path.parent().unwrap_or(Path::new(""));
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = folder.join(&*p);
            }
        };
        resolve(&mut config.data);
        if let Some(p) = config.api.tls_cert.as_mut() {
            resolve(p);
        }
        if let Some(p) = config.api.tls_key.as_mut() {
            resolve(p);
        }
        Ok(config)
    }

    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::from("(config)"),
            reason: e.to_string().trim().to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Check what serde cannot: addresses, ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.network.listen.is_empty() {
            return Err(invalid(
                "network.listen",
                "needs at least one address, e.g. /ip4/0.0.0.0/tcp/7400",
            ));
        }
        for (field, list) in [
            ("network.listen", &self.network.listen),
            ("network.bootstrap", &self.network.bootstrap),
        ] {
            for (i, a) in list.iter().enumerate() {
                // libp2p's own parser: what `run` will dial or listen on.
                if let Err(e) = a.parse::<kampung_mesh::Address>() {
                    return Err(invalid(
                        format!("{field}[{i}]"),
                        format!(
                            "'{a}' is not a multiaddr ({e}); write one such as \
                             /ip4/192.168.1.10/tcp/7400"
                        ),
                    ));
                }
            }
        }
        self.api_addr()?;
        if self.api.tls_cert.is_some() != self.api.tls_key.is_some() {
            return Err(invalid(
                "api.tls_cert",
                "give both tls_cert and tls_key, or neither (the node then uses the pair `kampung init` made)",
            ));
        }
        if !(1..=24 * 7).contains(&self.api.session_idle_hours) {
            return Err(invalid(
                "api.session_idle_hours",
                "must be between 1 and 168",
            ));
        }
        if self.api.access_log_days == 0 || self.api.access_log_max_entries < 1000 {
            return Err(invalid(
                "api.access_log_days",
                "keep the access log at least 1 day and 1000 entries",
            ));
        }
        for (i, h) in self.api.hosts.iter().enumerate() {
            let ok = !h.is_empty()
                && h.len() <= 253
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'));
            if !ok {
                return Err(invalid(
                    format!("api.hosts[{i}]"),
                    format!("'{h}' is not a host name or address such as pos-ketapang.lan"),
                ));
            }
        }
        if !(1..=64).contains(&self.limits.async_threads) {
            return Err(invalid("limits.async_threads", "must be between 1 and 64"));
        }
        if self.network.anti_entropy_secs == 0 {
            return Err(invalid("network.anti_entropy_secs", "must be at least 1"));
        }
        if self.network.heartbeat_secs == 0 {
            return Err(invalid("network.heartbeat_secs", "must be at least 1"));
        }
        if !(64 << 10..=64 << 20).contains(&self.limits.max_message_bytes) {
            return Err(invalid(
                "limits.max_message_bytes",
                "must be between 65536 and 67108864",
            ));
        }
        if self.limits.max_sessions == 0
            || self.limits.max_inbound_requests == 0
            || self.network.max_peers == 0
        {
            return Err(invalid(
                "limits",
                "max_sessions, max_inbound_requests and network.max_peers must be at least 1",
            ));
        }
        Ok(())
    }

    pub fn api_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.api.listen.parse().map_err(|_| {
            invalid(
                "api.listen",
                format!(
                    "'{}' is not an address such as 127.0.0.1:7480",
                    self.api.listen
                ),
            )
        })
    }

    pub fn anti_entropy(&self) -> Duration {
        Duration::from_secs(self.network.anti_entropy_secs)
    }

    pub fn heartbeat(&self) -> Duration {
        Duration::from_secs(self.network.heartbeat_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_config_parses() {
        let text = include_str!("../../../node/kampung.example.toml");
        let c = Config::parse(text).unwrap();
        assert!(!c.network.bootstrap.is_empty());
        assert_eq!(c.api_addr().unwrap().port(), 7480);
    }

    #[test]
    fn empty_is_the_defaults_and_mistakes_are_named() {
        assert_eq!(Config::parse("").unwrap(), Config::default());
        let e = Config::parse("[network]\nlisten = [\"tcp:7400\"]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("network.listen[0]"), "{e}");
        let e = Config::parse("[api]\nlisten = \"localhost\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("api.listen"), "{e}");
        let e = Config::parse("[network]\nmdsn = true\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("mdsn"), "{e}");
    }

    #[test]
    fn the_async_threads_are_two_unless_set_and_zero_is_refused() {
        assert_eq!(Config::default().limits.async_threads, 2);
        let c = Config::parse("[limits]\nasync_threads = 1\n").unwrap();
        assert_eq!(c.limits.async_threads, 1);
        for bad in [0, 65] {
            let e = Config::parse(&format!("[limits]\nasync_threads = {bad}\n"))
                .unwrap_err()
                .to_string();
            assert!(e.contains("limits.async_threads"), "{e}");
        }
    }

    #[test]
    fn multiaddrs_are_read_by_libp2ps_parser() {
        // Enough slashes, but not a protocol libp2p knows, or a bad port.
        for bad in [
            "/ip4/192.168.1.10/tpc/7400",
            "/ip4/192.168.1.300/tcp/7400",
            "/ip4/10.0.0.1/tcp/99999",
        ] {
            let e = Config::parse(&format!("[network]\nbootstrap = [\"{bad}\"]\n"))
                .unwrap_err()
                .to_string();
            assert!(e.contains("network.bootstrap[0]") && e.contains(bad), "{e}");
        }
        Config::parse("[network]\nbootstrap = [\"/dns4/desa.lan/tcp/7400\"]\n").unwrap();
    }

    #[test]
    fn relative_paths_are_taken_from_the_files_folder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kampung.toml");
        std::fs::write(
            &path,
            "data = \"desa\"\n[api]\ntls_cert = \"tls/a.crt\"\ntls_key = \"/etc/kampung/a.key\"\n",
        )
        .unwrap();
        let c = Config::load(&path).unwrap();
        assert_eq!(c.data, dir.path().join("desa"));
        assert_eq!(c.api.tls_cert, Some(dir.path().join("tls/a.crt")));
        assert_eq!(c.api.tls_key, Some(PathBuf::from("/etc/kampung/a.key")));
    }
}
