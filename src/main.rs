#![deny(clippy::unwrap_used)]

use clap::Parser;

fn main() {
    // Die quietly on a closed pipe (`archon-tui dlq list | head`), like other CLI tools.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = archon_tui::cli::Cli::parse();
    if cli.is_console() {
        // The console owns the terminal: logs go to its Logs panel instead.
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        if let Err(e) = tui_logger::init_logger(log::LevelFilter::Trace) {
            eprintln!("archon-tui: the Logs panel will miss librdkafka's lines: {e}");
        }
        tui_logger::set_buffer_depth(2000);
        tracing_subscriber::registry()
            .with(
                tracing_subscriber::EnvFilter::try_from_env("ARCHON_LOG")
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
            )
            .with(tui_logger::TuiTracingSubscriberLayer)
            .init();
    } else {
        let default_level = if cli.is_serve() { "info" } else { "warn" };
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_env("ARCHON_LOG")
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
            )
            .init();
    }
    let runtime = match archon_tui::runtime::process::tokio_runtime() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("archon-tui: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = match runtime.block_on(archon_tui::cli::run::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!(
                "archon-tui: error: {}",
                archon_tui::sanitize::clean(&format!("{e:#}"))
            );
            // Refused input is a usage error (as clap's are): exit 2.
            match e.downcast_ref::<archon_tui::engine::fleet::levers::CommandError>() {
                Some(
                    archon_tui::engine::fleet::levers::CommandError::Invalid(_)
                    | archon_tui::engine::fleet::levers::CommandError::ReadOnly(_),
                ) => 2,
                _ => 1,
            }
        }
    };
    // Do not wait for blocking tasks (a stuck read) on the way out.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    std::process::exit(code);
}
