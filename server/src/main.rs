//! Starts the console: configuration, telemetry, database, workers and the HTTP server.

use std::process::ExitCode;

fn main() -> ExitCode {
    server::memory::return_large_allocations();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts")
        .block_on(run())
}

async fn run() -> ExitCode {
    if let Err(error) =
        server::telemetry::init_logs(std::env::var("APP_LOG_FORMAT").ok().as_deref())
    {
        eprintln!("configuration error: {error}");
        return ExitCode::from(2);
    }
    let config = match server::config::load() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    let leptos = match leptos::config::get_configuration(None) {
        Ok(conf) => conf.leptos_options,
        Err(error) => {
            eprintln!("leptos configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    let mut addr = leptos.site_addr;
    if let Some(port) = std::env::var("PORT").ok().and_then(|p| p.parse().ok()) {
        addr.set_port(port);
    }
    let problems =
        server::config::startup_problems(&config, server::config::app_mode_is_set(), addr);
    if !problems.is_empty() {
        eprintln!("refusing to start:\n  {}", problems.join("\n  "));
        return ExitCode::from(2);
    }
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("cannot listen on {addr}: {error}");
            return ExitCode::from(1);
        }
    };
    let mode = format!("{:?}", config.mode).to_lowercase();
    let running = match server::start(config, leptos, listener, None).await {
        Ok(running) => running,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    tracing::info!(addr = %running.addr, %mode, "listening on http://{}", running.addr);
    let _ = tokio::signal::ctrl_c().await;
    running.stop().await;
    ExitCode::SUCCESS
}
