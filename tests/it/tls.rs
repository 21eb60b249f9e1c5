//! HTTPS in the binary: certificate files (served, reloaded when they change, a broken pair
//! never replaces a working one), plain HTTP redirected, HSTS; and a certificate obtained by
//! ACME from a real ACME server (Debian's `pebble`, on loopback), stored 0600 and served again
//! after a restart without asking the CA.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use reqwest::StatusCode;
use supportd::clock::ManualClock;
use supportd::config::{Config, TlsMode};

use crate::harness::{Running, eventually, init_data_dir};

/// A test certificate authority.
struct TestCa {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("key");
        let pem = params.self_signed(&key).expect("self-signed").pem();
        Self { pem, issuer: Issuer::new(params, key) }
    }

    /// (certificate PEM, key PEM) for `names`.
    fn leaf(&self, names: &[&str], cn: &str) -> (String, String) {
        let mut params = CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>()).expect("p");
        params.distinguished_name.push(DnType::CommonName, cn);
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("signed");
        (cert.pem(), key.serialize_pem())
    }
}

/// A client that trusts only `root_pem`, resolves `localhost` to `addr`, and opens a new
/// connection for every request (so a new certificate is seen at once).
fn https_client(root_pem: &str, addr: SocketAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(root_pem.as_bytes()).expect("root"))
        .resolve("localhost", addr)
        .pool_max_idle_per_host(0)
        .tls_info(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// The DER of the certificate the server presented.
fn peer_cert(resp: &reqwest::Response) -> Vec<u8> {
    resp.extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|i| i.peer_certificate())
        .expect("a peer certificate")
        .to_vec()
}

fn der(pem: &str) -> Vec<u8> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem.as_bytes()).next().expect("one").expect("pem").to_vec()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

#[tokio::test]
async fn certificate_files_are_served_reloaded_on_change_and_plain_http_is_redirected() {
    let clock = Arc::new(ManualClock::starting_now());
    let (dir, paths, _) = init_data_dir(&clock);
    let ca = TestCa::new("supportd files CA");
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let (cert1, key1) = ca.leaf(&["localhost"], "first");
    std::fs::write(&cert_file, &cert1).expect("write");
    std::fs::write(&key_file, &key1).expect("write");

    let mut config = Config::default();
    config.server.listen = ([127, 0, 0, 1], 0).into();
    config.server.tls = TlsMode::Files;
    config.server.domain = "localhost".into();
    config.server.public_url = "https://localhost".into();
    config.server.tls_cert_file = cert_file.clone();
    config.server.tls_key_file = key_file.clone();
    config.server.http_redirect_listen = "127.0.0.1:0".into();
    let app = Running::start(config.clone(), &paths, clock.clone()).await;
    let port = app.addr.port();
    let client = https_client(&ca.pem, app.addr);
    let url = format!("https://localhost:{port}/healthz");

    let resp = client.get(&url).send().await.expect("https");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["strict-transport-security"], "max-age=31536000");
    assert_eq!(peer_cert(&resp), der(&cert1));
    // Plain HTTP is not spoken on the HTTPS port…
    assert!(reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await.is_err());
    // …and the redirect listener sends it to HTTPS, path and query kept, never to the Host asked for.
    let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let redirect = app.redirect.expect("redirect listener");
    let resp = plain
        .get(format!("http://{redirect}/api/v1/kb/search?q=возврат"))
        .header("host", "evil.example")
        .send()
        .await
        .expect("plain");
    assert_eq!(resp.status(), StatusCode::PERMANENT_REDIRECT);
    let location = resp.headers()["location"].to_str().expect("ascii").to_owned();
    assert!(location.starts_with(&format!("https://localhost:{port}/api/v1/kb/search?q=")), "{location}");
    assert!(resp.headers().get("strict-transport-security").is_none(), "HSTS only over HTTPS");
    let resp = plain.get(format!("http://{redirect}/.well-known/acme-challenge/unknown")).send().await.expect("plain");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND, "no ACME answers in files mode");

    // A broken pair on disk does not replace the working certificate.
    std::fs::write(&cert_file, "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n").expect("write");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let resp = https_client(&ca.pem, app.addr).get(&url).send().await.expect("still https");
    assert_eq!(peer_cert(&resp), der(&cert1), "the previous certificate stays in service");

    // A renewed pair is picked up by itself.
    let (cert2, key2) = ca.leaf(&["localhost"], "second");
    std::fs::write(&key_file, &key2).expect("write");
    std::fs::write(&cert_file, &cert2).expect("write");
    eventually(20, "the renewed certificate", async || {
        // A new client each time: a resumed TLS session would report the old certificate.
        let resp = https_client(&ca.pem, app.addr).get(&url).send().await.ok()?;
        (peer_cert(&resp) == der(&cert2)).then_some(())
    })
    .await;
    app.stop().await;

    // Missing files stop the start with a message naming the setting.
    std::fs::remove_file(&key_file).expect("rm");
    let err = Running::try_start(config, &paths, clock).await.err().expect("refused").to_string();
    assert!(err.contains("HTTPS"), "{err}");
}

/// A pebble process, stopped when dropped.
struct Pebble {
    child: Child,
    dir: PathBuf,
}

impl Drop for Pebble {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pebble_binary() -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("pebble"))
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var("SUPPORTD_REQUIRE_PEBBLE").is_err(),
            "pebble is not installed (tests/run.sh installs Debian's pebble package)"
        );
        eprintln!("skipped: the ACME test needs pebble (apt-get install pebble)");
    }
    found
}

/// Starts pebble on `acme`/`management` ports, validating HTTP-01 on `http_port`.
fn start_pebble(binary: &Path, dir: &Path, ca: &TestCa, acme: u16, management: u16, http_port: u16) -> Pebble {
    let (cert, key) = ca.leaf(&["localhost"], "pebble");
    std::fs::write(dir.join("pebble-cert.pem"), cert).expect("write");
    std::fs::write(dir.join("pebble-key.pem"), key).expect("write");
    let config = serde_json::json!({"pebble": {
        "listenAddress": format!("127.0.0.1:{acme}"),
        "managementListenAddress": format!("127.0.0.1:{management}"),
        "certificate": dir.join("pebble-cert.pem"),
        "privateKey": dir.join("pebble-key.pem"),
        "httpPort": http_port,
        "tlsPort": free_port(),
        "ocspResponderURL": "",
        "externalAccountBindingRequired": false,
    }});
    std::fs::write(dir.join("pebble.json"), config.to_string()).expect("write");
    let log = std::fs::File::create(dir.join("pebble.log")).expect("log");
    let child = Command::new(binary)
        .arg("-config")
        .arg(dir.join("pebble.json"))
        .arg("-strict=false")
        .env("PEBBLE_VA_NOSLEEP", "1")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start pebble");
    Pebble { child, dir: dir.to_owned() }
}

#[tokio::test]
async fn a_certificate_is_obtained_by_acme_from_pebble_stored_privately_and_reused_after_a_restart() {
    let Some(binary) = pebble_binary() else { return };
    let clock = Arc::new(ManualClock::starting_now());
    let (dir, paths, _) = init_data_dir(&clock);
    let ca = TestCa::new("pebble listener CA");
    let ca_file = dir.path().join("pebble-ca.pem");
    std::fs::write(&ca_file, &ca.pem).expect("write");
    let (acme_port, mgmt_port, https_port, http_port) = (free_port(), free_port(), free_port(), free_port());
    let pebble = start_pebble(&binary, dir.path(), &ca, acme_port, mgmt_port, http_port);
    let to_pebble = https_client(&ca.pem, SocketAddr::from(([127, 0, 0, 1], acme_port)));
    eventually(30, "pebble's directory", async || {
        to_pebble
            .get(format!("https://localhost:{acme_port}/dir"))
            .send()
            .await
            .ok()
            .filter(|r| r.status().is_success())
    })
    .await;

    let mut config = Config::default();
    config.server.listen = ([127, 0, 0, 1], https_port).into();
    config.server.tls = TlsMode::Acme;
    config.server.domain = "localhost".into();
    config.server.public_url = format!("https://localhost:{https_port}");
    config.server.acme_email = "admin@shop.ru".into();
    config.server.acme_directory_url = format!("https://localhost:{acme_port}/dir");
    config.server.acme_ca_file = ca_file.clone();
    config.server.http_redirect_listen = format!("127.0.0.1:{http_port}");
    let app = Running::start(config.clone(), &paths, clock.clone()).await;

    // The certificate chains to pebble's issuing root (fetched from its management port).
    let to_mgmt = https_client(&ca.pem, SocketAddr::from(([127, 0, 0, 1], mgmt_port)));
    let root = to_mgmt
        .get(format!("https://localhost:{mgmt_port}/roots/0"))
        .send()
        .await
        .expect("pebble root")
        .text()
        .await
        .expect("pem");
    let client = https_client(&root, app.addr);
    let url = format!("https://localhost:{https_port}/healthz");
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let resp = loop {
        if let Ok(r) = client.get(&url).send().await
            && r.status() == StatusCode::OK
        {
            break r;
        }
        if std::time::Instant::now() > deadline {
            let log = std::fs::read_to_string(pebble.dir.join("pebble.log")).unwrap_or_default();
            panic!("no ACME certificate within 90 s; pebble said:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(resp.headers()["strict-transport-security"], "max-age=31536000");
    let served = peer_cert(&resp);

    let tls = paths.data_dir.join("tls");
    for f in ["cert.pem", "key.pem", "account.json"] {
        assert!(tls.join(f).is_file(), "{f} stored");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(tls.join(f)).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{f}");
        }
    }
    let stored = std::fs::read_to_string(tls.join("cert.pem")).expect("cert");
    assert_eq!(der(&stored), served);
    let info = supportd::tls::cert_info(stored.as_bytes()).expect("parsed");
    assert!(info.covers("localhost"), "{info:?}");

    // Two thirds into its lifetime (by the clock), the certificate is renewed by itself.
    let now = supportd::clock::Clock::now_ms(clock.as_ref());
    clock.advance(Duration::from_millis(u64::try_from(info.renew_at() - now).unwrap_or(0) + 86_400_000));
    let renewed = eventually(60, "the renewed ACME certificate", async || {
        let resp = https_client(&root, app.addr).get(&url).send().await.ok()?;
        let got = peer_cert(&resp);
        (got != served).then_some(got)
    })
    .await;
    let stored = std::fs::read_to_string(tls.join("cert.pem")).expect("cert");
    assert_eq!(der(&stored), renewed, "the renewed certificate is stored");
    let served = renewed;

    let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let resp = plain.get(format!("http://127.0.0.1:{http_port}/")).send().await.expect("plain");
    assert_eq!(resp.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(resp.headers()["location"], format!("https://localhost:{https_port}/"));
    app.stop().await;

    // Without the CA, a restart serves the stored certificate at once.
    drop(pebble);
    let app = Running::start(config, &paths, clock).await;
    let resp = eventually(10, "HTTPS after the restart", async || {
        https_client(&root, app.addr).get(&url).send().await.ok().filter(|r| r.status() == StatusCode::OK)
    })
    .await;
    assert_eq!(peer_cert(&resp), served, "the stored certificate, not a new one");
    app.stop().await;
}
