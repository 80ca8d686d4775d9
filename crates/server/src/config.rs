//! Configuration of `smartstock-server`, from flags and environment (`SMARTSTOCK_*`,
//! `DATABASE_URL`, `ALLOW_NEGATIVE_STOCK`) and, for `serve`, an optional TOML file
//! (`--config FILE` / `SMARTSTOCK_CONFIG`) with the same settings. Each source is one
//! [`ServeSettings`] layer; a setting comes from the flags and environment if given there, else from
//! the file, else from the default, and [`ServeSettings::resolve`] checks the result.
//!
//! Must not: read secrets into logs (the database URL is printed without its password), or accept
//! a file key it does not know (a misspelt setting would silently keep its default).

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Where the data lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseTarget {
    /// The embedded SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL.
    Postgres(String),
}

impl DatabaseTarget {
    /// `postgres://…` / `postgresql://…` is PostgreSQL; anything else is a SQLite file path.
    pub fn parse(text: &str) -> DatabaseTarget {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            DatabaseTarget::Postgres(text.to_string())
        } else {
            DatabaseTarget::Sqlite(PathBuf::from(text.strip_prefix("sqlite://").unwrap_or(text)))
        }
    }

    /// A printable form without credentials.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseTarget::Sqlite(path) => format!("sqlite {}", path.display()),
            DatabaseTarget::Postgres(url) => match (url.find("://"), url.rfind('@')) {
                (Some(scheme), Some(at)) if at > scheme => format!("postgres {}***{}", &url[..scheme + 3], &url[at..]),
                _ => format!("postgres {url}"),
            },
        }
    }
}

/// How the server speaks HTTP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// Certificate chain and key from PEM files.
    Files {
        /// Chain.
        cert: PathBuf,
        /// Key.
        key: PathBuf,
    },
    /// A self-signed certificate for localhost, generated at start.
    SelfSigned,
    /// Plain HTTP (only behind a TLS-terminating proxy or in tests).
    InsecureHttp,
}

/// Everything `serve` needs.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Address to listen on (port 0 picks a free port, printed at start).
    pub listen: SocketAddr,
    /// TLS.
    pub tls: TlsMode,
    /// Limits and lifetimes.
    pub api: crate::api::ApiSettings,
    /// `ALLOW_NEGATIVE_STOCK`: the global policy pushed to clients.
    pub allow_negative_stock: bool,
}

/// The database when none is given.
pub const DEFAULT_DATABASE: &str = "smartstock.db";
/// The address when none is given.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";
/// The largest request body when none is given (bytes).
pub const DEFAULT_BODY_LIMIT: usize = 4 * 1024 * 1024;
/// The access token lifetime when none is given (seconds).
pub const DEFAULT_ACCESS_TTL: i64 = 900;
/// Sign-in attempts per minute when none is given.
pub const DEFAULT_LOGIN_PER_MINUTE: i64 = 10;

/// A configuration problem: names the setting (and the file, if it came from one) and the fix.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

/// The settings of `serve`, each optional: one layer of configuration (the flags and environment,
/// or the config file). The config file's keys are these field names.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeSettings {
    /// SQLite file path, or a `postgres://` URL.
    pub database: Option<String>,
    /// Address and port.
    pub listen: Option<SocketAddr>,
    /// PEM certificate chain (with `tls_key`).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (with `tls_cert`).
    pub tls_key: Option<PathBuf>,
    /// Plain HTTP (tests, or behind a TLS-terminating proxy).
    pub insecure_http: Option<bool>,
    /// Devices may record movements that take stock below zero.
    pub allow_negative_stock: Option<bool>,
    /// Largest request body, bytes.
    pub body_limit: Option<usize>,
    /// Access token lifetime, seconds.
    pub access_ttl: Option<i64>,
    /// Sign-in attempts per minute per user name and per address.
    pub login_per_minute: Option<i64>,
    /// Signed-in API requests per minute per user.
    pub api_per_minute: Option<i64>,
    /// Browser origins allowed to call the API (CORS); none means CORS stays closed.
    pub cors_origins: Option<Vec<String>>,
    /// Folder of desktop releases served as the update feed.
    pub updates_dir: Option<PathBuf>,
}

impl ServeSettings {
    /// The keys a config file may have.
    pub const KEYS: &'static [&'static str] = &[
        "database",
        "listen",
        "tls_cert",
        "tls_key",
        "insecure_http",
        "allow_negative_stock",
        "body_limit",
        "access_ttl",
        "login_per_minute",
        "api_per_minute",
        "cors_origins",
        "updates_dir",
    ];

    /// Reads a config file. Relative paths in it (`tls_cert`, `tls_key`, a SQLite `database`)
    /// are taken from the file's folder, so the file means the same whatever folder the server
    /// starts in.
    pub fn load(file: &Path) -> Result<ServeSettings, ConfigError> {
        let text = std::fs::read_to_string(file).map_err(|e| {
            ConfigError(format!(
                "cannot read the config file {}: {e}; check the path given with --config or SMARTSTOCK_CONFIG",
                file.display()
            ))
        })?;
        ServeSettings::from_toml(&text, file)
    }

    /// Parses the text of the config file `file` (named in errors; its folder anchors relative
    /// paths).
    pub fn from_toml(text: &str, file: &Path) -> Result<ServeSettings, ConfigError> {
        let table: toml::Table = toml::from_str(text)
            .map_err(|e| ConfigError(format!("the config file {} is not valid TOML: {e}", file.display())))?;
        if let Some(key) = table.keys().find(|k| !ServeSettings::KEYS.contains(&k.as_str())) {
            return Err(ConfigError(format!(
                "unknown key `{key}` in the config file {}; remove it or use one of: {}",
                file.display(),
                ServeSettings::KEYS.join(", ")
            )));
        }
        let mut settings: ServeSettings =
            table.try_into().map_err(|e| ConfigError(format!("in the config file {}: {e}", file.display())))?;
        let folder = file.parent().unwrap_or(Path::new(""));
        let anchor = |path: PathBuf| if path.is_relative() { folder.join(path) } else { path };
        settings.tls_cert = settings.tls_cert.map(anchor);
        settings.updates_dir = settings.updates_dir.map(anchor);
        settings.tls_key = settings.tls_key.map(anchor);
        settings.database = settings.database.map(|text| match DatabaseTarget::parse(&text) {
            DatabaseTarget::Sqlite(path) if path.is_relative() => anchor(path).display().to_string(),
            _ => text,
        });
        Ok(settings)
    }

    /// Each setting from `self` if given there, else from `lower`.
    pub fn over(self, lower: ServeSettings) -> ServeSettings {
        ServeSettings {
            database: self.database.or(lower.database),
            listen: self.listen.or(lower.listen),
            tls_cert: self.tls_cert.or(lower.tls_cert),
            tls_key: self.tls_key.or(lower.tls_key),
            insecure_http: self.insecure_http.or(lower.insecure_http),
            allow_negative_stock: self.allow_negative_stock.or(lower.allow_negative_stock),
            body_limit: self.body_limit.or(lower.body_limit),
            access_ttl: self.access_ttl.or(lower.access_ttl),
            login_per_minute: self.login_per_minute.or(lower.login_per_minute),
            api_per_minute: self.api_per_minute.or(lower.api_per_minute),
            cors_origins: self.cors_origins.or(lower.cors_origins),
            updates_dir: self.updates_dir.or(lower.updates_dir),
        }
    }

    /// Fills the defaults in and checks the result: the database and what `serve` needs.
    pub fn resolve(self) -> Result<(DatabaseTarget, ServeConfig), ConfigError> {
        let database = DatabaseTarget::parse(self.database.as_deref().unwrap_or(DEFAULT_DATABASE));
        let listen = match self.listen {
            Some(listen) => listen,
            None => DEFAULT_LISTEN.parse().map_err(|e| ConfigError(format!("default listen address: {e}")))?,
        };
        let tls = match (self.tls_cert, self.tls_key, self.insecure_http.unwrap_or(false)) {
            (None, None, true) => TlsMode::InsecureHttp,
            (Some(_), _, true) | (_, Some(_), true) => {
                return Err(ConfigError(
                    "insecure_http is set together with tls_cert/tls_key; keep the certificate for HTTPS or \
                     insecure_http for plain HTTP behind a TLS proxy, not both"
                        .into(),
                ))
            }
            (Some(cert), Some(key), false) => TlsMode::Files { cert, key },
            (Some(_), None, false) => {
                return Err(ConfigError(
                    "tls_cert is set without tls_key; give both, or neither for a self-signed certificate".into(),
                ))
            }
            (None, Some(_), false) => {
                return Err(ConfigError(
                    "tls_key is set without tls_cert; give both, or neither for a self-signed certificate".into(),
                ))
            }
            (None, None, false) => TlsMode::SelfSigned,
        };
        let body_limit_bytes = self.body_limit.unwrap_or(DEFAULT_BODY_LIMIT);
        if body_limit_bytes == 0 {
            return Err(ConfigError("body_limit must be at least 1 byte (got 0)".into()));
        }
        let access_ttl = at_least_one("access_ttl", self.access_ttl.unwrap_or(DEFAULT_ACCESS_TTL))?;
        let login = at_least_one("login_per_minute", self.login_per_minute.unwrap_or(DEFAULT_LOGIN_PER_MINUTE))?;
        let api_per_minute =
            at_least_one("api_per_minute", self.api_per_minute.unwrap_or(crate::api::DEFAULT_API_PER_MINUTE))?;
        let cors_origins = self.cors_origins.unwrap_or_default();
        for origin in &cors_origins {
            check_origin(origin).map_err(ConfigError)?;
        }
        let api = crate::api::ApiSettings {
            access_ttl_ms: access_ttl.saturating_mul(1000),
            body_limit_bytes,
            login_attempts_per_minute: login,
            api_requests_per_minute: api_per_minute,
            cors_origins,
            updates_dir: self.updates_dir,
            serves_tls: !matches!(tls, TlsMode::InsecureHttp),
            ..crate::api::ApiSettings::default()
        };
        let allow_negative_stock = self.allow_negative_stock.unwrap_or(false);
        Ok((database, ServeConfig { listen, tls, api, allow_negative_stock }))
    }
}

fn at_least_one(name: &str, value: i64) -> Result<i64, ConfigError> {
    if value < 1 {
        return Err(ConfigError(format!("{name} must be at least 1 (got {value})")));
    }
    Ok(value)
}

/// Checks a CORS origin: `http://` or `https://`, a host, an optional port, nothing after
/// (browsers send exactly that in `Origin`, and a listed origin must match it byte for byte).
pub fn check_origin(origin: &str) -> Result<(), String> {
    let fix = "give it as scheme://host[:port], e.g. https://stock.example.com";
    let rest = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
    let Some(authority) = rest else {
        return Err(format!("CORS origin {origin:?} must start with https:// or http://; {fix}"));
    };
    // An IPv6 host is bracketed: [::1]:8080.
    let (host, port) = match authority.strip_prefix('[').and_then(|v6| v6.split_once(']')) {
        Some((v6, after)) => (v6, if after.is_empty() { None } else { Some(after.strip_prefix(':').unwrap_or("x")) }),
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let v6 = authority.starts_with('[');
    let host_ok = !host.is_empty()
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.') || (v6 && c == ':'));
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit()));
    if !host_ok || !port_ok {
        return Err(format!("CORS origin {origin:?} is not an origin (no path, wildcard or trailing /); {fix}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_targets_and_redaction() {
        assert_eq!(DatabaseTarget::parse("data/s.db"), DatabaseTarget::Sqlite("data/s.db".into()));
        let pg = DatabaseTarget::parse("postgres://app:secret@db:5432/stock");
        assert_eq!(pg.redacted(), "postgres postgres://***@db:5432/stock");
        assert!(!pg.redacted().contains("secret"));
    }

    const FILE: &str = r#"
database = "postgres://app@db/stock"
listen = "0.0.0.0:9443"
allow_negative_stock = true
body_limit = 1024
access_ttl = 60
login_per_minute = 3
cors_origins = ["https://stock.example.com", "http://localhost:5173"]
"#;

    fn file(text: &str) -> Result<ServeSettings, ConfigError> {
        ServeSettings::from_toml(text, Path::new("/etc/smartstock/server.toml"))
    }

    #[test]
    fn nothing_given_means_the_defaults() {
        let (database, config) = ServeSettings::default().resolve().unwrap();
        assert_eq!(database, DatabaseTarget::Sqlite(DEFAULT_DATABASE.into()));
        assert_eq!(config.listen, DEFAULT_LISTEN.parse().unwrap());
        assert_eq!(config.tls, TlsMode::SelfSigned);
        assert!(!config.allow_negative_stock);
        assert_eq!(config.api.body_limit_bytes, DEFAULT_BODY_LIMIT);
        assert_eq!(config.api.access_ttl_ms, DEFAULT_ACCESS_TTL * 1000);
        assert_eq!(config.api.login_attempts_per_minute, DEFAULT_LOGIN_PER_MINUTE);
        assert!(config.api.cors_origins.is_empty(), "CORS is closed by default");
    }

    #[test]
    fn the_file_overrides_defaults_and_flags_override_the_file() {
        let from_file = file(FILE).unwrap();
        let (database, config) = from_file.clone().resolve().unwrap();
        assert_eq!(database, DatabaseTarget::Postgres("postgres://app@db/stock".into()));
        assert_eq!(config.listen, "0.0.0.0:9443".parse().unwrap());
        assert!(config.allow_negative_stock);
        assert_eq!(config.api.body_limit_bytes, 1024);
        assert_eq!(config.api.access_ttl_ms, 60_000);
        assert_eq!(config.api.login_attempts_per_minute, 3);
        assert_eq!(config.api.cors_origins, ["https://stock.example.com", "http://localhost:5173"]);

        let flags = ServeSettings {
            listen: Some("127.0.0.1:0".parse().unwrap()),
            allow_negative_stock: Some(false),
            access_ttl: Some(120),
            cors_origins: Some(vec!["https://other.example.com".into()]),
            ..ServeSettings::default()
        };
        let (database, config) = flags.over(from_file).resolve().unwrap();
        assert_eq!(config.listen, "127.0.0.1:0".parse().unwrap(), "flag wins");
        assert!(!config.allow_negative_stock, "an explicit false flag wins over the file's true");
        assert_eq!(config.api.access_ttl_ms, 120_000, "flag wins");
        assert_eq!(config.api.cors_origins, ["https://other.example.com"], "the flag's list replaces the file's");
        assert_eq!(database, DatabaseTarget::Postgres("postgres://app@db/stock".into()), "file fills the rest");
        assert_eq!(config.api.body_limit_bytes, 1024, "file fills the rest");
        assert_eq!(config.api.login_attempts_per_minute, 3, "file fills the rest");
    }

    #[test]
    fn unknown_keys_are_refused_naming_the_key_and_the_file() {
        let error = file("listen = \"127.0.0.1:1\"\nlisten_adress = \"x\"\n").unwrap_err().to_string();
        assert!(error.contains("`listen_adress`"), "{error}");
        assert!(error.contains("/etc/smartstock/server.toml"), "{error}");
        assert!(error.contains("listen, tls_cert"), "lists the known keys: {error}");
        let nested = file("[server]\nlisten = \"127.0.0.1:1\"\n").unwrap_err().to_string();
        assert!(nested.contains("`server`"), "{nested}");
    }

    #[test]
    fn bad_values_and_bad_toml_name_the_file() {
        let wrong_type = file("body_limit = \"big\"\n").unwrap_err().to_string();
        assert!(
            wrong_type.contains("/etc/smartstock/server.toml") && wrong_type.contains("body_limit"),
            "{wrong_type}"
        );
        let not_toml = file("listen = \n").unwrap_err().to_string();
        assert!(not_toml.contains("not valid TOML") && not_toml.contains("server.toml"), "{not_toml}");
        let missing = ServeSettings::load(Path::new("/nonexistent/smartstock.toml")).unwrap_err().to_string();
        assert!(missing.contains("/nonexistent/smartstock.toml") && missing.contains("--config"), "{missing}");
    }

    #[test]
    fn relative_paths_in_the_file_are_taken_from_its_folder() {
        let settings =
            file("database = \"data/s.db\"\ntls_cert = \"tls/cert.pem\"\ntls_key = \"/abs/key.pem\"\n").unwrap();
        assert_eq!(settings.database.as_deref(), Some("/etc/smartstock/data/s.db"));
        assert_eq!(settings.tls_cert, Some(PathBuf::from("/etc/smartstock/tls/cert.pem")));
        assert_eq!(settings.tls_key, Some(PathBuf::from("/abs/key.pem")));
        let pg = file("database = \"postgres://u@h/d\"\n").unwrap();
        assert_eq!(pg.database.as_deref(), Some("postgres://u@h/d"));
    }

    #[test]
    fn tls_settings_must_agree_after_merging() {
        let cert_from_file = file("tls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n").unwrap();
        let insecure = ServeSettings { insecure_http: Some(true), ..ServeSettings::default() };
        let error = insecure.over(cert_from_file.clone()).resolve().unwrap_err().to_string();
        assert!(error.contains("insecure_http") && error.contains("tls_cert"), "{error}");
        let (_, config) = cert_from_file.resolve().unwrap();
        assert!(matches!(config.tls, TlsMode::Files { .. }));
        let half = ServeSettings { tls_cert: Some("c.pem".into()), ..ServeSettings::default() };
        assert!(half.resolve().unwrap_err().to_string().contains("without tls_key"));
        let zero = ServeSettings { access_ttl: Some(0), ..ServeSettings::default() };
        assert!(zero.resolve().unwrap_err().to_string().contains("access_ttl must be at least 1"));
    }

    #[test]
    fn cors_origins_must_be_exact_origins() {
        for good in ["https://stock.example.com", "http://localhost:5173", "https://[::1]:8443", "http://10.0.0.1"] {
            assert_eq!(check_origin(good), Ok(()), "{good}");
        }
        for bad in [
            "*",
            "stock.example.com",
            "https://stock.example.com/",
            "https://x.com/app",
            "https://",
            "ftp://x",
            "https://x:",
            "https://x:port",
        ] {
            let error = check_origin(bad).unwrap_err();
            assert!(error.contains(bad) && error.contains("scheme://host[:port]"), "{bad}: {error}");
        }
        let settings = ServeSettings { cors_origins: Some(vec!["*".into()]), ..ServeSettings::default() };
        assert!(settings.resolve().is_err(), "a wildcard would open CORS to every site");
    }
}
