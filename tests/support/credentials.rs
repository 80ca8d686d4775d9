//! A refresh token kept in a file, so that a client process killed with `kill -9` and started
//! again keeps its session (the desktop keeps it in the OS keyring; tests have none). Each write
//! replaces the file atomically (write a sibling, then rename).

use smartstock_sync::CredentialStore;
use std::path::PathBuf;

/// The refresh token of one test device, in `path`.
#[derive(Debug, Clone)]
pub struct FileCredentials {
    path: PathBuf,
}

impl FileCredentials {
    /// Credentials stored in `path` (created on the first write).
    pub fn new(path: impl Into<PathBuf>) -> FileCredentials {
        FileCredentials { path: path.into() }
    }

    fn write(&self, text: &str) {
        let temporary = self.path.with_extension("tmp");
        let written = std::fs::write(&temporary, text).and_then(|()| std::fs::rename(&temporary, &self.path));
        if let Err(e) = written {
            eprintln!("cannot keep the refresh token in {}: {e}", self.path.display());
        }
    }
}

impl CredentialStore for FileCredentials {
    fn refresh_token(&self) -> Option<String> {
        std::fs::read_to_string(&self.path).ok().filter(|t| !t.trim().is_empty())
    }

    fn set_refresh_token(&self, token: &str) {
        self.write(token);
    }

    fn clear(&self) {
        self.write("");
    }
}
