//! `optout serve`: the engine as an HTTP service ([`crate::serve`]).
//!
//! It listens on 127.0.0.1:8080 unless told otherwise, and prints `listening on
//! http://ADDR:PORT` on one line of standard output once it accepts connections (with
//! `--listen 127.0.0.1:0` the system picks a free port, and the line says which). An address
//! other than loopback is refused unless a bearer token is configured, from `--token-file`
//! or `OPTOUT_SERVE_TOKEN` (never a flag value: it would show in `ps`).
//!
//! Connections are limited per client address and in all, and a request head must arrive
//! within `--header-read-timeout` ([`crate::serve::connections`]).
//!
//! SIGTERM or Ctrl-C: no new connections are taken, requests in flight finish (streams get
//! `--shutdown-grace` more), the evidence log is synced, and the exit status is 0.

use super::CliError;
use crate::config::Config;
use crate::engine::{Engine, EngineOptions, OpenEngine};
use crate::serve::auth::Token;
use crate::serve::connections::{self, ConnectionLimits};
use crate::serve::{AppState, ServeOptions, router};
use clap::Args;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// The environment variable a token may come from.
pub const TOKEN_ENV: &str = "OPTOUT_SERVE_TOKEN";

/// Arguments of `optout serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on; one other than loopback needs a token.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// A file holding the bearer token clients must send (else `OPTOUT_SERVE_TOKEN`).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,

    /// The longest request body, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = ServeOptions::default().max_body_bytes)]
    pub max_body_bytes: usize,

    /// Requests in flight per client address; more are answered 429.
    #[arg(long, value_name = "N", default_value_t = ServeOptions::default().max_in_flight,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_in_flight: usize,

    /// The longest a request may take before its answer starts (503 after), e.g. `60s`.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,

    /// The longest a request head (request line and header fields) may take to arrive, and an
    /// idle connection may stay open; the connection is closed after, e.g. `10s`.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    pub header_read_timeout: Duration,

    /// Open connections per client address; one more is closed at once.
    #[arg(long, value_name = "N", default_value_t = ConnectionLimits::default().per_client,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_connections_per_client: usize,

    /// Open connections in all (keep it below the descriptor limit, `ulimit -n`); one more is
    /// closed at once.
    #[arg(long, value_name = "N", default_value_t = ConnectionLimits::default().total,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_connections: usize,

    /// After SIGTERM, how long streamed answers still in flight may go on, e.g. `10s`.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    pub shutdown_grace: Duration,

    /// Domains always refused, one per line (replaces signals.excluded_domains_file).
    #[arg(long, value_name = "FILE")]
    pub excluded_domains: Option<PathBuf>,
}

/// The token, from the file or the environment; `None` when neither gives one.
fn token(args: &ServeArgs) -> Result<Option<Token>, CliError> {
    let text = match &args.token_file {
        Some(path) => {
            let failed = |source| CliError::Read {
                path: path.clone(),
                source,
            };
            let mut text = String::new();
            std::fs::File::open(path)
                .map_err(failed)?
                .take(4096)
                .read_to_string(&mut text)
                .map_err(failed)?;
            text
        }
        None => match std::env::var(TOKEN_ENV) {
            Ok(text) => text,
            Err(std::env::VarError::NotPresent) => return Ok(None),
            Err(e) => return Err(CliError::Usage(format!("{TOKEN_ENV}: {e}"))),
        },
    };
    let from = match &args.token_file {
        Some(path) => format!("--token-file {}", path.display()),
        None => TOKEN_ENV.to_owned(),
    };
    Token::new(&text)
        .map(Some)
        .map_err(|e| CliError::Usage(format!("{from}: {e}")))
}

/// Runs `optout serve`.
pub fn run(config: &Config, store: &Path, args: ServeArgs) -> Result<ExitCode, CliError> {
    let token = token(&args)?;
    if token.is_none() && !args.listen.ip().is_loopback() {
        return Err(CliError::Usage(format!(
            "refusing to listen on {} without a bearer token: set --token-file FILE or {TOKEN_ENV}, or listen on 127.0.0.1",
            args.listen
        )));
    }
    let options = EngineOptions {
        record: true,
        excluded_domains: args.excluded_domains.clone(),
    };
    let engine = Arc::new(Engine::open(config, Some(store), options)?);
    let serve_options = ServeOptions {
        max_body_bytes: args.max_body_bytes,
        max_in_flight: args.max_in_flight,
        request_timeout: args.request_timeout,
        connections: ConnectionLimits {
            header_read_timeout: args.header_read_timeout,
            per_client: args.max_connections_per_client,
            total: args.max_connections,
        },
    };
    let state = Arc::new(AppState::new(Arc::clone(&engine), token, serve_options));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Net(format!("cannot start the async runtime: {e}")))?;
    let served = runtime.block_on(serve(state, args.listen, args.shutdown_grace));
    // Whatever stopped the service, every decision made is on disk before the exit.
    runtime.shutdown_timeout(Duration::from_secs(5));
    engine.sync()?;
    served?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(state: Arc<AppState>, listen: SocketAddr, grace: Duration) -> Result<(), CliError> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| CliError::Net(format!("cannot listen on {listen}: {e}")))?;
    let bound = listener
        .local_addr()
        .map_err(|e| CliError::Net(format!("cannot listen on {listen}: {e}")))?;
    let signal = signal()?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{bound}")
            .and_then(|()| out.flush())
            .map_err(CliError::Write)?;
    }
    let (stopping, mut stopped) = tokio::sync::watch::channel(false);
    let limits = state.options.connections;
    let server = connections::run(listener, router(state), limits, async move {
        signal.await;
        let _ = stopping.send(true);
    });
    tokio::select! {
        () = server => Ok(()),
        // Requests in flight were given their time; a stream that goes on longer is cut.
        _ = async {
            let _ = stopped.wait_for(|s| *s).await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!("serve: answers still streaming after {grace:?} were cut");
            Ok(())
        }
    }
}

/// SIGTERM or Ctrl-C (SIGINT), listened for from when this is called: a signal sent as soon
/// as the address line is printed is not missed.
fn signal() -> Result<impl std::future::Future<Output = ()>, CliError> {
    use tokio::signal::unix::{SignalKind, signal};
    let failed = |e| CliError::Net(format!("cannot listen for signals: {e}"));
    let mut term = signal(SignalKind::terminate()).map_err(failed)?;
    let mut int = signal(SignalKind::interrupt()).map_err(failed)?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}
