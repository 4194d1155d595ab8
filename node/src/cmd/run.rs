use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use kampung_runtime::Config;
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
    /// Seconds between digest comparisons with each peer (with more than 8 peers: with 8 of them, those compared longest ago)
    #[arg(long)]
    anti_entropy_secs: Option<u64>,
    /// Seconds between heartbeat announcements.
    #[arg(long)]
    heartbeat_secs: Option<u64>,
    /// Serve a non-loopback API address over plain HTTP instead of TLS:
    /// passwords and sessions then cross the LAN in clear text. For a trial only.
    #[arg(long)]
    insecure_http: bool,
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
    if a.insecure_http {
        config.api.insecure_http = true;
    }
    config
        .validate()
        .context("invalid configuration (after command-line overrides)")?;
    Ok(config)
}

pub fn run(data: Option<&Path>, a: Args) -> anyhow::Result<ExitCode> {
    let config = load_config(data, &a)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.limits.async_threads)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(config))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(config: Config) -> anyhow::Result<()> {
    // Listen for Ctrl-C / SIGTERM before anything else, so a signal during
    // start-up is not lost: it stops the node as soon as it is up.
    let signalled = CancellationToken::new();
    let on_signal = signalled.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        on_signal.cancel();
    });
    let running = kampung_node::start_with_config(&config).await?;
    let node = running.node().clone();
    let addr = config.api_addr()?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for the API on {}", config.api.listen))?;
    let api_addr = listener.local_addr()?;
    let tls = if addr.ip().is_loopback() {
        None
    } else if config.api.insecure_http {
        tracing::warn!(%api_addr, "INSECURE: the API and the pages are served over plain HTTP on a LAN address (--insecure-http): passwords and sessions cross the network in clear text");
        None
    } else {
        let dir = kampung_datadir::DataDir::open(&config.data)?;
        let (cert, key) = match (&config.api.tls_cert, &config.api.tls_key) {
            (Some(c), Some(k)) => (c.clone(), k.clone()),
            _ => dir.tls_pair()?,
        };
        Some(
            kampung_api::serve::Tls::load(&cert, &key)
                .with_context(|| format!("cannot load the TLS certificate for {api_addr}"))?,
        )
    };
    let fingerprint = tls.as_ref().map(|t| t.fingerprint.clone());
    let web = |port: u16, tls: bool| kampung_api::Web {
        hosts: kampung_api::auth::HostAllowList {
            names: config
                .api
                .hosts
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .chain((!addr.ip().is_unspecified()).then(|| addr.ip().to_string()))
                .collect(),
            port: Some(port),
        },
        tls,
        metrics_open_on_loopback: config.api.metrics_open_on_loopback,
        tls_fingerprint: fingerprint.clone(),
    };
    let mut tasks = Vec::new();
    // The CLI on this machine talks plain HTTP on loopback: over TLS on a LAN
    // address, a second listener on 127.0.0.1 serves it.
    let local_addr = if tls.is_some() {
        let local = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot listen on loopback for the CLI")?;
        let local_addr = local.local_addr()?;
        tasks.push(tokio::spawn(kampung_api::serve::serve_with(
            local,
            kampung_web::router(kampung_api::AppState::with_web(
                node.clone(),
                web(local_addr.port(), false),
            )),
            running.shutdown_token(),
            None,
            kampung_api::serve::Limits::default(),
        )));
        local_addr
    } else if api_addr.ip().is_unspecified() {
        // Bound to every address: the CLI reaches it on loopback.
        std::net::SocketAddr::from(([127, 0, 0, 1], api_addr.port()))
    } else {
        api_addr
    };
    tasks.push(tokio::spawn(kampung_api::serve::serve_with(
        listener,
        kampung_web::router(kampung_api::AppState::with_web(
            node.clone(),
            web(api_addr.port(), tls.is_some()),
        )),
        running.shutdown_token(),
        tls,
        kampung_api::serve::Limits::default(),
    )));
    let addr_file = kampung_api::api_addr_file(&config.data);
    std::fs::write(&addr_file, format!("{local_addr}\n"))
        .with_context(|| format!("cannot write {}", addr_file.display()))?;
    info!(peer = %node.peer_id(), role = %node.role().tag(), api = %api_addr, "node running");
    let scheme = if fingerprint.is_some() {
        "https"
    } else {
        "http"
    };
    println!(
        "node {} ({}) running; pages and API on {scheme}://{api_addr}; Ctrl-C to stop",
        node.peer_id(),
        node.role()
    );
    if let Some(f) = &fingerprint {
        println!("TLS certificate fingerprint (SHA-256): {f}");
    }

    let store = node.store().clone();
    tokio::select! {
        _ = signalled.cancelled() => {}
        _ = store.restart_needed() => return Err(restart_process()),
    }
    println!("stopping...");
    drop(node);
    let stopped = running.stop().await;
    for task in tasks {
        match task.await {
            Ok(Err(e)) => tracing::warn!(error = %e, "API server ended with an error"),
            Err(e) => tracing::warn!(error = %e, "API task failed"),
            Ok(Ok(())) => {}
        }
    }
    let _ = std::fs::remove_file(&addr_file);
    stopped?;
    println!("stopped cleanly");
    Ok(())
}

/// Replace this process with a new run of the same command: the store's
/// database failed (a full disk), closing it hung inside sled, and only a
/// new process can open it again now that the disk has space. Like a crash
/// and a restart, minus the wait for an operator: every write acknowledged
/// so far is durable. Returns only if that fails (then the process exits
/// with an error, and systemd's `Restart=on-failure` starts it again).
fn restart_process() -> anyhow::Error {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt as _;
        println!("restarting: the store's database must be reopened after a full disk");
        let exe = match std::env::current_exe() {
            Ok(exe) => exe,
            Err(e) => return anyhow::anyhow!("cannot restart after a full disk: {e}"),
        };
        let err = std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .exec();
        anyhow::anyhow!("cannot restart after a full disk: {err}")
    }
    #[cfg(not(unix))]
    anyhow::anyhow!("the store must be reopened after a full disk: restart the node")
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
