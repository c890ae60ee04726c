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
    let logger = ClientErrorsDemoted(builder.build());
    log::set_max_level(logger.0.filter());
    // Only fails if a logger is installed already (a second init in tests).
    let _ = log::set_boxed_logger(Box::new(logger));
}

/// actix-http reports a request it could not parse (`stream error: request
/// parse error: …`) at ERROR. That is the client's mistake, already answered
/// with 400 or 431, so it is logged at INFO, as nginx logs "client sent
/// invalid request"; ERROR stays for faults of the server.
struct ClientErrorsDemoted(env_logger::Logger);

impl ClientErrorsDemoted {
    fn is_client_parse_error(record: &log::Record) -> bool {
        record.level() == log::Level::Error
            && record.target().starts_with("actix_http::h1")
            && record
                .args()
                .to_string()
                .starts_with("stream error: request parse error")
    }
}

impl log::Log for ClientErrorsDemoted {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        self.0.enabled(metadata)
    }

    fn log(&self, record: &log::Record) {
        if Self::is_client_parse_error(record) {
            let demoted = log::Record::builder()
                .level(log::Level::Info)
                .target(record.target())
                .args(*record.args())
                .module_path(record.module_path())
                .file(record.file())
                .line(record.line())
                .build();
            self.0.log(&demoted);
        } else {
            self.0.log(record);
        }
    }

    fn flush(&self) {
        self.0.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::ClientErrorsDemoted;

    fn record<'a>(target: &'a str, args: std::fmt::Arguments<'a>) -> log::Record<'a> {
        log::Record::builder()
            .level(log::Level::Error)
            .target(target)
            .args(args)
            .build()
    }

    #[test]
    fn only_actix_parse_errors_are_the_clients() {
        let parse = format_args!("stream error: request parse error: invalid Header provided");
        assert!(ClientErrorsDemoted::is_client_parse_error(&record(
            "actix_http::h1::dispatcher",
            parse
        )));
        let internal = format_args!("stream error: internal error");
        assert!(!ClientErrorsDemoted::is_client_parse_error(&record(
            "actix_http::h1::dispatcher",
            internal
        )));
        let ours = format_args!("stream error: request parse error: x");
        assert!(!ClientErrorsDemoted::is_client_parse_error(&record(
            "sharetoken::api",
            ours
        )));
    }
}
