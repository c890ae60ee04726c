//! Logging: `env_logger`, as plain text lines or (for log shippers) one
//! JSON object a line. The level comes from `RUST_LOG` (default `info`).

use std::io::Write;

/// The log target of access-log lines (one per request).
pub const ACCESS_TARGET: &str = "sharetoken::access";

/// How log lines are written (`[log] format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    /// The format `log.format` names, or the problem with it.
    pub fn from_setting(text: &str) -> Result<Self, String> {
        match text {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!(
                "log.format: '{other}' is not a format (use text or json)"
            )),
        }
    }
}

/// Installs the logger for the whole process.
pub fn init(format: LogFormat) {
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    if format == LogFormat::Json {
        builder.format(|out, record| {
            if record.target() == ACCESS_TARGET {
                // Access lines are JSON already (api::access_log).
                return writeln!(out, "{}", record.args());
            }
            let line = serde_json::json!({
                "ts": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "level": record.level().as_str(),
                "target": record.target(),
                "msg": crate::redact::scrub(&record.args().to_string()),
            });
            writeln!(out, "{line}")
        });
    }
    builder.init();
}
