use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use kampung_datadir::{DataDir, Role};
use kampung_mesh::MeshConfig;
use std::sync::{Arc, RwLock};

use kampung_runtime::membership::{now_ms, RosterMembership};
use kampung_runtime::store::{accept_all, spawn_store};
use kampung_runtime::Config;
use kampung_store::trust::{load_roster, RosterVerifier, SharedRoster};
use kampung_store::ChangeVerifier;
use kampung_trust::NodeKey;
use tokio_util::sync::CancellationToken;
use tracing::info;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// TOML configuration (see node/kampung.example.toml). Without it, the defaults.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Listen address (multiaddr); repeat for several. Overrides the config.
    #[arg(long)]
    listen: Vec<String>,
    /// Bootstrap peer (multiaddr); repeat for several. Added to the config's.
    #[arg(long)]
    bootstrap: Vec<String>,
    /// API address, e.g. 127.0.0.1:0 for any free port. Overrides the config.
    #[arg(long)]
    api: Option<String>,
    /// Turn off mDNS discovery on the local network.
    #[arg(long)]
    no_mdns: bool,
    /// Seconds between digest comparisons with each peer.
    #[arg(long)]
    anti_entropy_secs: Option<u64>,
    /// Seconds between heartbeat announcements.
    #[arg(long)]
    heartbeat_secs: Option<u64>,
}

fn load_config(data: Option<&Path>, a: &Args) -> anyhow::Result<Config> {
    let mut config = match &a.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    if let Some(d) = data {
        config.data = d.to_path_buf();
    }
    if !a.listen.is_empty() {
        config.network.listen = a.listen.clone();
    }
    config.network.bootstrap.extend(a.bootstrap.iter().cloned());
    if let Some(api) = &a.api {
        config.api.listen = api.clone();
    }
    if a.no_mdns {
        config.network.mdns = false;
    }
    if let Some(s) = a.anti_entropy_secs {
        config.network.anti_entropy_secs = s;
    }
    if let Some(s) = a.heartbeat_secs {
        config.network.heartbeat_secs = s;
    }
    config
        .validate()
        .context("invalid configuration (after command-line overrides)")?;
    Ok(config)
}

fn parse_addrs(field: &str, list: &[String]) -> anyhow::Result<Vec<kampung_mesh::Address>> {
    list.iter()
        .enumerate()
        .map(|(i, a)| {
            a.parse()
                .with_context(|| format!("{field}[{i}]: '{a}' is not a multiaddr"))
        })
        .collect()
}

pub fn run(data: Option<&Path>, a: Args) -> anyhow::Result<ExitCode> {
    let config = load_config(data, &a)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(config))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(config: Config) -> anyhow::Result<()> {
    // Listen for Ctrl-C / SIGTERM before anything else, so a signal during
    // start-up is not lost: it stops the node as soon as it is up.
    let shutdown = CancellationToken::new();
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        on_signal.cancel();
    });
    let dir = DataDir::open(&config.data)?;
    let registry = dir.open_registry(super::this_year())?;
    // With a root key, peers must show certificates and every remote write
    // must be signed by a writer allowed to make it; without one, the node
    // runs an open mesh (a trusted network only).
    let roster: Option<SharedRoster> = match dir.root_key()? {
        Some(root) => Some(Arc::new(RwLock::new(load_roster(
            registry.storage(),
            root,
        )?))),
        None => {
            tracing::warn!("no root key configured: this node admits every peer and accepts every change. Configure one with `kampung init --root ROOT.pub`");
            None
        }
    };
    let verifier: Arc<dyn ChangeVerifier + Send + Sync> = match &roster {
        Some(r) => Arc::new(RosterVerifier::new(r.clone(), now_ms)),
        None => accept_all(),
    };
    let (store, store_thread) = spawn_store(registry, verifier);
    let (role, own_village) = match dir.role() {
        Role::Village { village } => (format!("village:{village}"), Some(*village)),
        Role::Checkpoint { name } => (format!("checkpoint:{name}"), None),
        Role::Facility { name } => (format!("facility:{name}"), None),
        Role::Auditor => ("auditor".to_string(), None),
    };
    let mut mesh_config = MeshConfig::new(dir.keypair().clone(), role.clone());
    if let Some(r) = &roster {
        let own = NodeKey::from_public(&dir.keypair().public())
            .context("the node key is not an ed25519 key")?;
        if r.read()
            .map(|r| r.signed_certificate(&own, now_ms()).is_none())
            .unwrap_or(true)
        {
            tracing::warn!("this node has no certificate in force: peers will not admit it. Ask the regency administrator for one and add it with `kampung trust add`");
        }
        mesh_config.membership = Arc::new(RosterMembership::new(r.clone(), own, store.clone()));
    }
    mesh_config.listen = parse_addrs("network.listen", &config.network.listen)?;
    mesh_config.bootstrap = parse_addrs("network.bootstrap", &config.network.bootstrap)?;
    mesh_config.mdns = config.network.mdns;
    mesh_config.kademlia = config.network.kademlia;
    mesh_config.anti_entropy_every = config.anti_entropy();
    mesh_config.heartbeat_every = config.heartbeat();
    mesh_config.max_peers = config.network.max_peers;
    mesh_config.max_sessions = config.limits.max_sessions;
    mesh_config.max_inbound = config.limits.max_inbound_requests;
    mesh_config.request_timeout = Duration::from_secs(config.limits.request_timeout_secs);
    mesh_config.limits.max_message = config.limits.max_message_bytes;
    mesh_config.owned_docs = own_village.map(|v| format!("v/{v}")).into_iter().collect();
    let (mesh, event_loop) = kampung_mesh::new(mesh_config, store.clone())?;

    let mesh_task = tokio::spawn(event_loop.run(shutdown.child_token()));
    let listener = tokio::net::TcpListener::bind(config.api_addr()?)
        .await
        .with_context(|| format!("cannot listen for the API on {}", config.api.listen))?;
    let api_addr = listener.local_addr()?;
    let addr_file = kampung_api::api_addr_file(&config.data);
    std::fs::write(&addr_file, format!("{api_addr}\n"))
        .with_context(|| format!("cannot write {}", addr_file.display()))?;
    let state = kampung_api::AppState::new(kampung_api::ApiContext {
        store: store.clone(),
        mesh: mesh.clone(),
        role: role.clone(),
        own_village,
        peer_id: dir.info().peer_id.clone(),
        this_year: super::this_year(),
        metrics: kampung_api::Metrics::new(),
        roster: roster.clone(),
        clock: kampung_api::Clock::system(),
    });
    let api_task = tokio::spawn(kampung_api::serve(listener, state, shutdown.child_token()));
    info!(peer = %dir.info().peer_id, %role, api = %api_addr, "node running");
    println!(
        "node {} ({}) running; API on http://{api_addr}; Ctrl-C to stop",
        dir.info().peer_id,
        dir.role()
    );

    shutdown.cancelled().await;
    println!("stopping...");
    shutdown.cancel();
    let _ = mesh_task.await;
    match api_task.await {
        Ok(Err(e)) => tracing::warn!(error = %e, "API server ended with an error"),
        Err(e) => tracing::warn!(error = %e, "API task failed"),
        Ok(Ok(())) => {}
    }
    drop(mesh);
    drop(store);
    let stored = tokio::task::spawn_blocking(move || store_thread.join())
        .await
        .context("waiting for the store")?;
    let _ = std::fs::remove_file(&addr_file);
    match stored {
        Ok(Ok(())) => {
            println!("stopped cleanly");
            Ok(())
        }
        Ok(Err(e)) => Err(e.into()),
        Err(_) => anyhow::bail!("the store thread panicked"),
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
