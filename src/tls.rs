//! HTTPS in the binary (`server.tls`): the TLS listener the server runs on, certificates from
//! files (reloaded when they change) or from an ACME CA (HTTP-01 challenges, renewed before
//! they expire), and the plain-HTTP listener that answers the challenges and redirects
//! everything else to HTTPS.
//!
//! ACME state lives in `DATA_DIR/tls/` (0700): `account.json` (the ACME account key and id),
//! `cert.pem` and `key.pem`, each 0600 and replaced by rename. A stored certificate for the
//! domain is served at once at start; the CA is asked only when none is stored or two thirds of
//! its lifetime have passed, by the [`Clock`](crate::clock::Clock).

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::{Context as _, bail};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};

use crate::clock::SharedClock;
use crate::config::{Config, TlsMode};

/// HSTS on every HTTPS response: a year.
pub const HSTS: &str = "max-age=31536000";
/// How often the certificate files are looked at in "files" mode.
pub const FILES_POLL: Duration = Duration::from_secs(2);
/// Handshakes in progress at once; more wait (so a flood cannot grow memory without bound).
const MAX_HANDSHAKES: usize = 256;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// What a certificate says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    pub names: Vec<String>,
    /// Unix milliseconds.
    pub not_before: i64,
    pub not_after: i64,
}

impl CertInfo {
    /// Renewal is due when two thirds of the lifetime have passed (30 days before the end of
    /// a 90-day certificate).
    pub fn renew_at(&self) -> i64 {
        self.not_before + (self.not_after - self.not_before) / 3 * 2
    }

    pub fn covers(&self, domain: &str) -> bool {
        self.names.iter().any(|n| n.eq_ignore_ascii_case(domain))
    }
}

/// The first certificate of a PEM chain, parsed.
pub fn cert_info(chain_pem: &[u8]) -> anyhow::Result<CertInfo> {
    let first = CertificateDer::pem_slice_iter(chain_pem)
        .next()
        .context("no certificate in the file")?
        .map_err(|e| anyhow::anyhow!("the certificate is not valid PEM: {e:?}"))?;
    let (_, cert) = x509_parser::parse_x509_certificate(first.as_ref())
        .map_err(|e| anyhow::anyhow!("the certificate cannot be parsed: {e}"))?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::DNSName(d) = n {
                names.push((*d).to_owned());
            }
        }
    }
    let v = cert.validity();
    Ok(CertInfo {
        names,
        not_before: v.not_before.timestamp().saturating_mul(1000),
        not_after: v.not_after.timestamp().saturating_mul(1000),
    })
}

/// A certificate chain and its private key, checked to belong together.
pub fn certified_key(chain_pem: &[u8], key_pem: &[u8]) -> anyhow::Result<Arc<CertifiedKey>> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("the certificate file is not valid PEM: {e:?}"))?;
    if chain.is_empty() {
        bail!("no certificate in the certificate file");
    }
    let key =
        PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| anyhow::anyhow!("no private key in the key file: {e:?}"))?;
    let ck = CertifiedKey::from_der(chain, key, &provider())
        .map_err(|e| anyhow::anyhow!("the key does not fit the certificate: {e}"))?;
    Ok(Arc::new(ck))
}

/// The certificate the server presents; replaced whole when a new one arrives.
#[derive(Debug, Default)]
pub struct CertResolver {
    current: RwLock<Option<Arc<CertifiedKey>>>,
}

impl CertResolver {
    pub fn set(&self, ck: Arc<CertifiedKey>) {
        if let Ok(mut c) = self.current.write() {
            *c = Some(ck);
        }
    }

    pub fn is_set(&self) -> bool {
        self.current.read().is_ok_and(|c| c.is_some())
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        // None (no certificate yet) ends the handshake with an alert.
        self.current.read().ok().and_then(|c| c.clone())
    }
}

/// ACME HTTP-01 answers: token → key authorization, while an order is being validated.
#[derive(Debug, Default)]
pub struct Challenges(Mutex<HashMap<String, String>>);

impl Challenges {
    fn put(&self, token: &str, answer: &str) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(token.to_owned(), answer.to_owned());
        }
    }
    fn clear(&self) {
        if let Ok(mut m) = self.0.lock() {
            m.clear();
        }
    }
    fn get(&self, token: &str) -> Option<String> {
        self.0.lock().ok().and_then(|m| m.get(token).cloned())
    }
}

/// What the server needs for HTTPS.
pub struct Tls {
    pub resolver: Arc<CertResolver>,
    pub challenges: Arc<Challenges>,
    config: Arc<rustls::ServerConfig>,
    acme: Option<Arc<Acme>>,
    files: Option<(PathBuf, PathBuf)>,
}

impl Tls {
    /// Prepares HTTPS for `config` (None when `server.tls = "off"`): loads the certificate
    /// files, or the stored ACME certificate, so the first connection is served.
    pub fn setup(config: &Config, data_dir: &Path, clock: SharedClock) -> anyhow::Result<Option<Self>> {
        let s = &config.server;
        let resolver = Arc::new(CertResolver::default());
        let challenges = Arc::new(Challenges::default());
        let (acme, files) = match s.tls {
            TlsMode::Off => return Ok(None),
            TlsMode::Files => {
                let (cert, key) = (data_dir.join(&s.tls_cert_file), data_dir.join(&s.tls_key_file));
                let ck = load_files(&cert, &key).context("server.tls_cert_file / server.tls_key_file")?;
                resolver.set(ck);
                (None, Some((cert, key)))
            }
            TlsMode::Acme => {
                let ca = (!s.acme_ca_file.as_os_str().is_empty()).then(|| data_dir.join(&s.acme_ca_file));
                if let Some(ca) = &ca {
                    std::fs::read(ca).with_context(|| format!("cannot read server.acme_ca_file {}", ca.display()))?;
                }
                let acme = Acme {
                    domain: s.domain.clone(),
                    email: s.acme_email.clone(),
                    directory: s.acme_directory_url.clone(),
                    ca_file: ca,
                    dir: crate::paths::tls_dir(data_dir),
                    resolver: resolver.clone(),
                    challenges: challenges.clone(),
                    clock,
                };
                acme.load_stored();
                (Some(Arc::new(acme)), None)
            }
        };
        let mut server = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .context("TLS setup")?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Some(Self { resolver, challenges, config: Arc::new(server), acme, files }))
    }

    /// The background work: watching the files, or obtaining and renewing by ACME.
    pub fn maintain(&self) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        if let Some(acme) = &self.acme {
            return Box::pin(acme.clone().run());
        }
        if let Some((cert, key)) = &self.files {
            return Box::pin(watch_files(self.resolver.clone(), cert.clone(), key.clone()));
        }
        Box::pin(std::future::ready(()))
    }

    /// Accepts TLS on `tcp` (handshakes run concurrently, each within a time limit).
    pub fn listener(&self, tcp: TcpListener) -> TlsListener {
        TlsListener::new(tcp, tokio_rustls::TlsAcceptor::from(self.config.clone()))
    }
}

fn load_files(cert: &Path, key: &Path) -> anyhow::Result<Arc<CertifiedKey>> {
    let c = std::fs::read(cert).with_context(|| format!("cannot read the certificate {}", cert.display()))?;
    let k = std::fs::read(key).with_context(|| format!("cannot read the key {}", key.display()))?;
    certified_key(&c, &k)
}

/// A file's identity for change detection: modification time and length.
fn stamp(path: &Path) -> Option<(std::time::SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// "files" mode: reloads the pair when either file changes (a renewal by certbot, a copy by
/// hand); a pair that does not load keeps the previous certificate in service.
async fn watch_files(resolver: Arc<CertResolver>, cert: PathBuf, key: PathBuf) {
    let mut seen = (stamp(&cert), stamp(&key));
    loop {
        tokio::time::sleep(FILES_POLL).await;
        let now = (stamp(&cert), stamp(&key));
        if now == seen {
            continue;
        }
        let (c, k) = (cert.clone(), key.clone());
        match tokio::task::spawn_blocking(move || load_files(&c, &k)).await {
            Ok(Ok(ck)) => {
                resolver.set(ck);
                seen = now;
                tracing::info!(cert = %cert.display(), "the TLS certificate changed on disk and was reloaded");
            }
            Ok(Err(e)) => {
                // Tried again when the files change next (a half-written pair settles).
                seen = now;
                tracing::error!(error = %format!("{e:#}"), "the new TLS certificate files do not load; still serving the previous one");
            }
            Err(e) => tracing::error!(error = %e, "certificate reload failed"),
        }
    }
}

/// A listener that hands out connections after their TLS handshake.
pub struct TlsListener {
    rx: tokio::sync::mpsc::Receiver<(tokio_rustls::server::TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    fn new(tcp: TcpListener, acceptor: tokio_rustls::TlsAcceptor) -> Self {
        let local = tcp.local_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let permits = Arc::new(tokio::sync::Semaphore::new(MAX_HANDSHAKES));
        let task = tokio::spawn(async move {
            loop {
                let (stream, addr) = match tcp.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::debug!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(permit) = permits.clone().acquire_owned().await else { return };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    let _permit = permit;
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, addr)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%addr, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
                    }
                });
            }
        });
        Self { rx, local, task }
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(c) => c,
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

/// The plain-HTTP side: ACME HTTP-01 answers, and a permanent redirect of everything else to
/// `https_base` (the configured domain: the request's Host header is never trusted).
pub fn redirect_router(https_base: String, challenges: Arc<Challenges>) -> axum::Router {
    use axum::extract::Path as UrlPath;
    use axum::http::{StatusCode, Uri, header};
    use axum::response::IntoResponse;
    let answer = move |UrlPath(token): UrlPath<String>| {
        let challenges = challenges.clone();
        async move {
            match challenges.get(&token) {
                Some(a) => ([(header::CONTENT_TYPE, "application/octet-stream")], a).into_response(),
                None => StatusCode::NOT_FOUND.into_response(),
            }
        }
    };
    let redirect = move |uri: Uri| {
        let base = https_base.clone();
        async move {
            let path = uri.path_and_query().map_or("/", |p| p.as_str());
            let location = format!("{base}{path}");
            (
                StatusCode::PERMANENT_REDIRECT,
                [(header::LOCATION, location.clone()), (header::CACHE_CONTROL, "no-store".into())],
                format!("HTTPS: {location}\n"),
            )
                .into_response()
        }
    };
    axum::Router::new().route("/.well-known/acme-challenge/{token}", axum::routing::get(answer)).fallback(redirect)
}

/// Where plain HTTP is sent: the domain, with the HTTPS port unless it is 443.
pub fn https_base(domain: &str, https_port: u16) -> String {
    if https_port == 443 { format!("https://{domain}") } else { format!("https://{domain}:{https_port}") }
}

/// The ACME client over the product's HTTP stack (reqwest, rustls with the web PKI roots, plus
/// `server.acme_ca_file` when set). Responses are read up to 1 MiB.
struct AcmeHttp(reqwest::Client);

impl instant_acme::HttpClient for AcmeHttp {
    fn request(
        &self,
        req: http::Request<instant_acme::BodyWrapper<bytes::Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<instant_acme::BytesResponse, instant_acme::Error>> + Send>> {
        use http_body_util::BodyExt;
        let client = self.0.clone();
        Box::pin(async move {
            let other = |e: Box<dyn std::error::Error + Send + Sync>| instant_acme::Error::Other(e);
            let (parts, body) = req.into_parts();
            let body = match body.collect().await {
                Ok(b) => b.to_bytes(),
                Err(never) => match never {},
            };
            let mut resp = client
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(|e| other(Box::new(e)))?;
            let mut builder = http::Response::builder().status(resp.status());
            if let Some(h) = builder.headers_mut() {
                *h = resp.headers().clone();
            }
            let mut data = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(|e| other(Box::new(e)))? {
                if data.len() + chunk.len() > 1024 * 1024 {
                    return Err(other("the ACME server's response is larger than 1 MiB".into()));
                }
                data.extend_from_slice(&chunk);
            }
            let (parts, ()) = builder.body(()).map_err(|e| other(Box::new(e)))?.into_parts();
            Ok(instant_acme::BytesResponse { parts, body: Box::new(bytes::Bytes::from(data)) })
        })
    }
}

/// Obtains and renews the domain's certificate by ACME (HTTP-01).
pub struct Acme {
    domain: String,
    email: String,
    directory: String,
    ca_file: Option<PathBuf>,
    dir: PathBuf,
    resolver: Arc<CertResolver>,
    challenges: Arc<Challenges>,
    clock: SharedClock,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredAccount {
    directory: String,
    credentials: instant_acme::AccountCredentials,
}

fn private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict {}", dir.display()))?;
    }
    Ok(())
}

/// Writes `bytes` to `path` (0600) by a rename, so a reader never sees half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("partial");
    let _ = std::fs::remove_file(&tmp);
    crate::crypto::write_private_file(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))
}

impl Acme {
    fn cert_path(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }
    fn key_path(&self) -> PathBuf {
        self.dir.join("key.pem")
    }

    /// Serves the stored certificate when it is for the domain; returns what it says.
    fn load_stored(&self) -> Option<CertInfo> {
        let chain = std::fs::read(self.cert_path()).ok()?;
        let info = cert_info(&chain).ok().filter(|i| i.covers(&self.domain))?;
        match load_files(&self.cert_path(), &self.key_path()) {
            Ok(ck) => {
                self.resolver.set(ck);
                Some(info)
            }
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "the stored certificate does not load; a new one is requested");
                None
            }
        }
    }

    fn http(&self) -> anyhow::Result<Box<dyn instant_acme::HttpClient>> {
        let mut b =
            reqwest::Client::builder().timeout(Duration::from_secs(30)).connect_timeout(Duration::from_secs(10));
        if let Some(ca) = &self.ca_file {
            let pem = std::fs::read(ca).with_context(|| format!("cannot read {}", ca.display()))?;
            for cert in reqwest::Certificate::from_pem_bundle(&pem).context("server.acme_ca_file is not PEM")? {
                b = b.add_root_certificate(cert);
            }
        }
        Ok(Box::new(AcmeHttp(b.build().context("the ACME client")?)))
    }

    /// The stored account for this directory, or a new one (stored, 0600).
    async fn account(&self) -> anyhow::Result<instant_acme::Account> {
        let path = self.dir.join("account.json");
        if let Ok(text) = std::fs::read(&path)
            && let Ok(stored) = serde_json::from_slice::<StoredAccount>(&text)
            && stored.directory == self.directory
        {
            return instant_acme::Account::builder_with_http(self.http()?)
                .from_credentials(stored.credentials)
                .await
                .context("the stored ACME account");
        }
        let contact = format!("mailto:{}", self.email);
        let contacts: Vec<&str> = if self.email.is_empty() { Vec::new() } else { vec![contact.as_str()] };
        let (account, credentials) = instant_acme::Account::builder_with_http(self.http()?)
            .create(
                &instant_acme::NewAccount {
                    contact: &contacts,
                    terms_of_service_agreed: true,
                    only_return_existing: false,
                },
                self.directory.clone(),
                None,
            )
            .await
            .context("cannot create the ACME account")?;
        let stored = StoredAccount { directory: self.directory.clone(), credentials };
        write_atomically(&path, &serde_json::to_vec(&stored)?)?;
        tracing::info!(directory = %self.directory, "ACME account created");
        Ok(account)
    }

    /// One order: HTTP-01 for the domain, then the certificate, stored and put in service.
    pub async fn obtain(&self) -> anyhow::Result<CertInfo> {
        use instant_acme::{AuthorizationStatus, ChallengeType, Identifier, NewOrder, OrderStatus, RetryPolicy};
        private_dir(&self.dir)?;
        let account = self.account().await?;
        let ids = [Identifier::Dns(self.domain.clone())];
        let mut order = account.new_order(&NewOrder::new(&ids)).await.context("the CA refused the order")?;
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz.context("cannot read the authorization")?;
            match authz.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                other => bail!("the CA's authorization for {} is {other:?}", self.domain),
            }
            let mut challenge = authz.challenge(ChallengeType::Http01).context("the CA offers no HTTP-01 challenge")?;
            self.challenges.put(&challenge.token, challenge.key_authorization().as_str());
            challenge.set_ready().await.context("cannot tell the CA the challenge is ready")?;
        }
        let retry = RetryPolicy::new().initial_delay(Duration::from_millis(500)).timeout(Duration::from_secs(90));
        let status = order.poll_ready(&retry).await;
        let status = match status {
            Ok(s) => s,
            Err(e) => {
                self.challenges.clear();
                return Err(e).context("the CA did not validate the domain");
            }
        };
        if status != OrderStatus::Ready {
            let mut why = String::new();
            let mut authorizations = order.authorizations();
            while let Some(Ok(a)) = authorizations.next().await {
                if let Some(p) = a.challenges.iter().find_map(|c| c.error.as_ref()) {
                    why = p.to_string();
                }
            }
            self.challenges.clear();
            bail!(
                "the CA could not check {} over http://{}/.well-known/acme-challenge/ (port 80 open, DNS pointing here?): {why}",
                self.domain,
                self.domain
            );
        }
        let key_pem = order.finalize().await.context("the CA refused to finalize the order")?;
        let chain = order.poll_certificate(&retry).await.context("the CA did not issue the certificate")?;
        self.challenges.clear();
        let ck = certified_key(chain.as_bytes(), key_pem.as_bytes())?;
        let info = cert_info(chain.as_bytes())?;
        write_atomically(&self.key_path(), key_pem.as_bytes())?;
        write_atomically(&self.cert_path(), chain.as_bytes())?;
        self.resolver.set(ck);
        tracing::info!(domain = %self.domain, not_after = %crate::clock::rfc3339(info.not_after), "TLS certificate obtained");
        Ok(info)
    }

    /// Obtains a certificate when none is stored, and renews it when due; failures are retried
    /// with backoff (a minute, doubling, at most 6 h: gentle on the CA's failed-validation
    /// limits, e.g. Let's Encrypt's 5 per hour).
    pub async fn run(self: Arc<Self>) {
        let mut info = self.load_stored();
        let mut failures: u32 = 0;
        loop {
            let due = info.as_ref().map_or(0, CertInfo::renew_at);
            while self.clock.now_ms() < due {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            match self.obtain().await {
                Ok(i) => {
                    info = Some(i);
                    failures = 0;
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    let wait = Duration::from_secs((60u64 << (failures - 1).min(12)).min(6 * 3600));
                    tracing::error!(domain = %self.domain, error = %format!("{e:#}"), retry_in_secs = wait.as_secs(),
                        "cannot obtain the TLS certificate");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

/// The stored ACME certificate's facts, for `supportd doctor`.
pub fn stored_acme_cert(data_dir: &Path) -> Option<anyhow::Result<CertInfo>> {
    let chain = std::fs::read(crate::paths::tls_dir(data_dir).join("cert.pem")).ok()?;
    Some(cert_info(&chain))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_is_due_after_two_thirds() {
        let day = 86_400_000;
        let i = CertInfo { names: vec!["Shop.ru".into()], not_before: 0, not_after: 90 * day };
        assert_eq!(i.renew_at(), 60 * day);
        assert!(i.covers("shop.ru") && !i.covers("www.shop.ru"));
        assert_eq!(https_base("shop.ru", 443), "https://shop.ru");
        assert_eq!(https_base("shop.ru", 8443), "https://shop.ru:8443");
    }

    #[test]
    fn bad_pem_is_refused_with_a_reason() {
        assert!(cert_info(b"not a certificate").is_err());
        let err = certified_key(b"", b"").expect_err("empty").to_string();
        assert!(err.contains("no certificate"), "{err}");
    }
}
