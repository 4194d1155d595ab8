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
    let signalled = CancellationToken::new();
    let on_signal = signalled.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        on_signal.cancel();
    });
    let running = kampung_node::start_with_config(&config).await?;
    let node = running.node().clone();
    let listener = tokio::net::TcpListener::bind(config.api_addr()?)
        .await
        .with_context(|| format!("cannot listen for the API on {}", config.api.listen))?;
    let api_addr = listener.local_addr()?;
    let addr_file = kampung_api::api_addr_file(&config.data);
    std::fs::write(&addr_file, format!("{api_addr}\n"))
        .with_context(|| format!("cannot write {}", addr_file.display()))?;
    let api_task = tokio::spawn(kampung_api::serve(
        listener,
        kampung_api::AppState::new(node.clone()),
        running.shutdown_token(),
    ));
    info!(peer = %node.peer_id(), role = %node.role().tag(), api = %api_addr, "node running");
    println!(
        "node {} ({}) running; API on http://{api_addr}; Ctrl-C to stop",
        node.peer_id(),
        node.role()
    );

    signalled.cancelled().await;
    println!("stopping...");
    drop(node);
    let stopped = running.stop().await;
    match api_task.await {
        Ok(Err(e)) => tracing::warn!(error = %e, "API server ended with an error"),
        Err(e) => tracing::warn!(error = %e, "API task failed"),
        Ok(Ok(())) => {}
    }
    let _ = std::fs::remove_file(&addr_file);
    stopped?;
    println!("stopped cleanly");
    Ok(())
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
