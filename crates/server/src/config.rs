//! Configuration of `smartstock-server`, from flags and environment (`SMARTSTOCK_*`,
//! `DATABASE_URL`, `ALLOW_NEGATIVE_STOCK`).
//!
//! Must not: read secrets into logs (the database URL is printed without its password).

use std::net::SocketAddr;
use std::path::PathBuf;

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
}
