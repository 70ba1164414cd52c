//! Log output: plain text (coloured only on a terminal) or one JSON object per line
//! for log shippers. Logs go to standard output, next to the binary's own messages.

use std::io::IsTerminal;

/// The environment variable that picks the log format when `--log-format` is not given.
pub const LOG_FORMAT_ENV: &str = "FLOTILLA_LOG_FORMAT";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines, coloured only when written to a terminal.
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `message` and the
    /// event's own fields at the top level, plus the spans it happened in.
    Json,
}

/// Whether text logs written to standard output should carry ANSI colours: only on a
/// terminal, and never when `NO_COLOR` is set (<https://no-color.org>).
pub fn colour_wanted() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Installs the global subscriber: `RUST_LOG` filters (default `info,sqlx=warn`).
pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stdout);
    match format {
        LogFormat::Text => builder.with_ansi(colour_wanted()).init(),
        LogFormat::Json => builder.json().flatten_event(true).with_ansi(false).init(),
    }
}

/// Tells the person running flotilla something (where it listens, what it wrote): a
/// plain line with text logs, an `info` event with JSON logs so that every line of
/// the output stays JSON.
pub fn announce(format: LogFormat, message: &str) {
    match format {
        LogFormat::Text => println!("{message}"),
        LogFormat::Json => tracing::info!(target: "flotilla", "{message}"),
    }
}
