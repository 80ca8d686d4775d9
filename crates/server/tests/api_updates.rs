//! The desktop update feed: the newest signed release for the app's platform and bundle, 204 when
//! it is current, the artifact downloadable at the offered address, nothing outside the releases
//! folder reachable, and a clear 404 when the server serves no updates.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use reqwest::{Method, StatusCode};
use smartstock_server::api::ApiSettings;
use support::TestServer;

fn releases() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (version, body, sig) in [("0.1.0", "old", "sig-old"), ("0.2.0", "new package", "sig-new")] {
        let folder = dir.path().join(version);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join(format!("SmartStock_{version}_amd64.deb")), body).unwrap();
        std::fs::write(folder.join(format!("SmartStock_{version}_amd64.deb.sig")), sig).unwrap();
    }
    std::fs::write(dir.path().join("0.2.0/notes.md"), "Faster stock search.").unwrap();
    std::fs::write(dir.path().join("secret.txt"), "not a release").unwrap();
    dir
}

#[tokio::test]
async fn the_feed_offers_the_newest_signed_release_and_serves_it() {
    let dir = releases();
    let settings = ApiSettings { updates_dir: Some(dir.path().into()), serves_tls: false, ..ApiSettings::default() };
    let server = TestServer::start_with(settings).await;
    let app = server.anonymous();

    let (status, offer) = app.call(Method::GET, "/api/v1/updates/linux/x86_64/0.1.0?bundle_type=deb", None).await;
    assert_eq!(status, StatusCode::OK, "{offer}");
    assert_eq!(offer["version"], "0.2.0");
    assert_eq!(offer["signature"], "sig-new");
    assert_eq!(offer["notes"], "Faster stock search.");
    let url = offer["url"].as_str().unwrap();
    assert!(
        url.starts_with("http://") && url.ends_with("/api/v1/updates/files/0.2.0/SmartStock_0.2.0_amd64.deb"),
        "{url}"
    );
    let download = reqwest::get(url).await.unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.text().await.unwrap(), "new package");

    let (status, _) = app.call(Method::GET, "/api/v1/updates/linux/x86_64/0.2.0?bundle_type=deb", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "current: nothing to install");
    let (status, _) = app.call(Method::GET, "/api/v1/updates/windows/x86_64/0.1.0?bundle_type=msi", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "no artifact for that platform");
    let (status, body) = app.call(Method::GET, "/api/v1/updates/linux/x86_64/newest?bundle_type=deb", None).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_version")));
}

#[tokio::test]
async fn nothing_outside_the_releases_folder_is_served() {
    let dir = releases();
    let settings = ApiSettings { updates_dir: Some(dir.path().into()), ..ApiSettings::default() };
    let server = TestServer::start_with(settings).await;
    for path in [
        "/api/v1/updates/files/0.2.0/..%2Fsecret.txt",
        "/api/v1/updates/files/..%2F0.2.0/SmartStock_0.2.0_amd64.deb",
        "/api/v1/updates/files/0.2.0/missing.deb",
    ] {
        let (status, body) = server.anonymous().call(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
}

#[tokio::test]
async fn a_server_without_releases_says_how_to_serve_them() {
    let server = TestServer::start().await;
    let (status, body) = server.anonymous().call(Method::GET, "/api/v1/updates/linux/x86_64/0.1.0", None).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("updates_not_configured")));
    assert!(body["message"].as_str().unwrap().contains("--updates-dir"));
}
