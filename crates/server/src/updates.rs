//! The desktop app's update feed, served from a folder of releases (issue #6): the app's updater
//! asks `GET /api/v1/updates/{target}/{arch}/{current_version}?bundle_type=deb` and gets the newest
//! release that has an artifact for its platform and bundle, with the artifact's minisign
//! signature, or nothing (204) when it is current. The app verifies the signature with the public
//! key built into it and never installs an artifact that fails.
//!
//! Folder layout, one sub-folder per release named by its version:
//! ```text
//! releases/0.2.0/SmartStock_0.2.0_amd64.deb      the artifact (as `make dist` names it)
//! releases/0.2.0/SmartStock_0.2.0_amd64.deb.sig  its signature (tauri signer)
//! releases/0.2.0/notes.md                         release notes (optional)
//! ```
//!
//! Must not: sign anything, or serve a file outside the releases folder.

use semver::Version;
use std::path::{Path, PathBuf};

/// What the feed offers one app.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct UpdateOffer {
    /// The newer version.
    pub version: String,
    /// Release notes (markdown).
    pub notes: String,
    /// Where to download the artifact (absolute URL).
    pub url: String,
    /// The artifact's minisign signature (the `.sig` file's content).
    pub signature: String,
}

/// Why the feed cannot answer.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// The version in the path is not a version.
    #[error("{0:?} is not a version like 1.2.3")]
    BadVersion(String),
    /// The releases folder cannot be read.
    #[error("the releases folder {path} cannot be read: {error}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// Why.
        error: String,
    },
}

/// A release artifact found for one platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Artifact {
    /// Release version.
    pub version: Version,
    /// File name inside the release's folder.
    pub file: String,
    /// Signature text.
    pub signature: String,
    /// Notes.
    pub notes: String,
}

/// The file-name ending of the artifact for a platform: `target` (`linux`, `windows`, `darwin`),
/// `arch` (`x86_64`, `aarch64`, ...) and bundle type (`deb`, `rpm`, `msi`, `nsis`, `app`).
pub fn artifact_suffix(target: &str, arch: &str, bundle: Option<&str>) -> Option<String> {
    let debian_arch = match arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "armv7" => "armhf",
        "i686" => "i386",
        _ => return None,
    };
    match (target, bundle.unwrap_or_default()) {
        ("linux", "deb") => Some(format!("_{debian_arch}.deb")),
        ("linux", "rpm") => Some(format!(".{arch}.rpm")),
        ("windows", "msi") => Some(format!("_{}_en-US.msi", windows_arch(arch)?)),
        ("windows", "nsis") => Some(format!("_{}-setup.exe", windows_arch(arch)?)),
        ("darwin", "app" | "") => Some(".app.tar.gz".into()),
        _ => None,
    }
}

fn windows_arch(arch: &str) -> Option<&'static str> {
    match arch {
        "x86_64" => Some("x64"),
        "i686" => Some("x86"),
        "aarch64" => Some("arm64"),
        _ => None,
    }
}

/// The newest release in `dir` newer than `current` with a signed artifact ending in `suffix`.
pub fn newest(dir: &Path, current: &str, suffix: &str) -> Result<Option<Artifact>, UpdateError> {
    let current =
        Version::parse(current.trim_start_matches('v')).map_err(|_| UpdateError::BadVersion(current.into()))?;
    let folder = |e: std::io::Error| UpdateError::Folder { path: dir.to_path_buf(), error: e.to_string() };
    let mut releases: Vec<(Version, PathBuf)> = std::fs::read_dir(dir)
        .map_err(folder)?
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .filter_map(|e| Some((Version::parse(e.file_name().to_str()?).ok()?, e.path())))
        .filter(|(v, _)| *v > current)
        .collect();
    releases.sort_by(|a, b| b.0.cmp(&a.0));
    for (version, path) in releases {
        if let Some(artifact) = signed_artifact(&path, &version, suffix).map_err(folder)? {
            return Ok(Some(artifact));
        }
    }
    Ok(None)
}

fn signed_artifact(release: &Path, version: &Version, suffix: &str) -> std::io::Result<Option<Artifact>> {
    for entry in std::fs::read_dir(release)?.filter_map(Result::ok) {
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
        if !name.ends_with(suffix) {
            continue;
        }
        let Ok(signature) = std::fs::read_to_string(release.join(format!("{name}.sig"))) else {
            tracing::warn!(file = %name, "release artifact without a .sig file is not offered");
            continue;
        };
        let notes = std::fs::read_to_string(release.join("notes.md")).unwrap_or_default();
        return Ok(Some(Artifact { version: version.clone(), file: name, signature: signature.trim().into(), notes }));
    }
    Ok(None)
}

/// The path of a release file to download, if `version` and `file` name one inside `dir` (no
/// other folder is reachable: the version must parse and the file name must be a plain name).
pub fn release_file(dir: &Path, version: &str, file: &str) -> Option<PathBuf> {
    Version::parse(version).ok()?;
    let plain = !file.is_empty() && !file.starts_with('.') && !file.contains(['/', '\\']) && file != "..";
    let path = dir.join(version).join(file);
    (plain && path.is_file()).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(dir: &Path, version: &str, files: &[(&str, &str)]) {
        let folder = dir.join(version);
        std::fs::create_dir_all(&folder).unwrap();
        for (name, text) in files {
            std::fs::write(folder.join(name), text).unwrap();
        }
    }

    #[test]
    fn offers_the_newest_signed_release_for_the_platform() {
        let dir = tempfile::tempdir().unwrap();
        release(dir.path(), "0.2.0", &[("S_0.2.0_amd64.deb", "x"), ("S_0.2.0_amd64.deb.sig", "sig2\n")]);
        release(
            dir.path(),
            "0.3.0",
            &[("S_0.3.0_amd64.deb", "x"), ("S_0.3.0_amd64.deb.sig", "sig3"), ("notes.md", "New")],
        );
        release(dir.path(), "0.4.0", &[("S_0.4.0_amd64.deb", "unsigned")]);
        release(dir.path(), "0.5.0", &[("S_0.5.0_arm64.deb", "x"), ("S_0.5.0_arm64.deb.sig", "s")]);
        let suffix = artifact_suffix("linux", "x86_64", Some("deb")).unwrap();
        let offer = newest(dir.path(), "0.1.0", &suffix).unwrap().unwrap();
        assert_eq!((offer.version.to_string(), offer.file.as_str()), ("0.3.0".into(), "S_0.3.0_amd64.deb"));
        assert_eq!((offer.signature.as_str(), offer.notes.as_str()), ("sig3", "New"));
        assert_eq!(newest(dir.path(), "0.3.0", &suffix).unwrap(), None, "current: nothing to offer");
        assert!(matches!(newest(dir.path(), "latest", &suffix), Err(UpdateError::BadVersion(_))));
    }

    #[test]
    fn only_plain_files_of_a_release_can_be_downloaded() {
        let dir = tempfile::tempdir().unwrap();
        release(dir.path(), "0.2.0", &[("S_0.2.0_amd64.deb", "x")]);
        assert!(release_file(dir.path(), "0.2.0", "S_0.2.0_amd64.deb").is_some());
        assert!(release_file(dir.path(), "0.2.0", "../0.2.0/S_0.2.0_amd64.deb").is_none());
        assert!(release_file(dir.path(), "..", "etc").is_none());
        assert!(release_file(dir.path(), "0.2.0", "missing.deb").is_none());
    }

    #[test]
    fn platforms_map_to_the_bundler_file_names() {
        assert_eq!(artifact_suffix("linux", "x86_64", Some("deb")).as_deref(), Some("_amd64.deb"));
        assert_eq!(artifact_suffix("windows", "x86_64", Some("nsis")).as_deref(), Some("_x64-setup.exe"));
        assert_eq!(artifact_suffix("darwin", "aarch64", None).as_deref(), Some(".app.tar.gz"));
        assert_eq!(artifact_suffix("linux", "sparc", Some("deb")), None);
    }
}
