//! The query languages of CloudWatch Logs, free of I/O: [`filter`] (the filter
//! patterns of FilterLogEvents, metric filters and subscriptions) and [`insights`]
//! (the Logs Insights query language of StartQuery). Both read log events as
//! [`LogEvent`]s; the Logs service feeds them from its store.

pub mod filter;
pub mod insights;

/// One log event as the query languages see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    /// The log group it is in (`@log`).
    pub log_group: String,
    /// The log stream it is in (`@logStream`).
    pub log_stream: String,
    /// Its timestamp, milliseconds since the epoch (`@timestamp`).
    pub timestamp: i64,
    /// When it was ingested, milliseconds since the epoch (`@ingestionTime`).
    pub ingestion_time: i64,
    /// Its text (`@message`).
    pub message: String,
}
