//! lane-v1-peer: an independent implementation of octopii's Shipping Lane v1
//! wire format (seed 001, "The Chunk Transfer Protocol" / "Wire Format"), on a
//! different QUIC stack (quinn + rustls) than octopii itself (@matrixai/quic),
//! used by test/integration/interop-v1.test.ts.
//!
//! Per transfer, one bidirectional QUIC stream, ALPN `octopii`:
//!   sender -> receiver: u64 little-endian size N, N data bytes, 32-byte SHA-256 of the data
//!   receiver -> sender: 1 status byte (0 OK, 1 checksum mismatch, 2 error)
//!
//! Commands:
//!   lane-v1-peer serve --listen HOST:PORT --dir DIR [--once] [--request-client-cert] [--sync all|data]
//!     stdout: {"event":"listening","address":"HOST:PORT"} first, then one
//!     {"event":"received","bytes":N,"sha256":"hex","file":"path","status":S,"clientCert":B}
//!     per transfer (B: whether the client presented a certificate).
//!     A file whose checksum does not match (status 1) is removed.
//!     --request-client-cert: ask every client for a certificate (a CertificateRequest) but
//!     admit it without one, and accept any certificate; by default no client certificate is
//!     asked for, as the seed's Rust Octopii server (rustls `with_no_client_auth`).
//!     --sync: how the received file is made durable before the status byte is sent: `all`
//!     (the default) fsync(2) — data and metadata, tokio `File::sync_all`; `data` fdatasync(2) —
//!     data and the metadata needed to read it back (the size), `File::sync_data`, as octopii's
//!     receiver does before its acknowledgement (the fair baseline of bench/cli-vs-quinn.ts).
//!     --once: print the first transfer's line and exit(0) ~20 ms after handing its status
//!     byte to quinn, without finishing the stream or closing the connection (the sender
//!     sees the process vanish, as a receiver that exits right after answering). The delay is
//!     LANE_PEER_ONCE_DELAY_MS (default 20).
//!   lane-v1-peer send FILE --to HOST:PORT [--no-client-cert]
//!     stdout: {"event":"sent","bytes":N,"status":S}; exit 0 only if S == 0.
//!     --no-client-cert: present no client certificate, as the seed's Rust Octopii client
//!     does (rustls `with_no_client_auth`): to a server that asks for one it answers with an
//!     empty Certificate message.
//!
//! Both sides use a fresh self-signed ECDSA P-256 certificate (made with the openssl
//! crate: Debian 12 does not package rcgen). The client skips server certificate
//! verification (like the seed's SkipServerVerification) and by default offers its
//! certificate, because octopii's server asks for client certificates.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ALPN: &[u8] = b"octopii";
const BUF: usize = 64 * 1024;
const STATUS_OK: u8 = 0;
const STATUS_MISMATCH: u8 = 1;
const STATUS_ERROR: u8 = 2;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How a received file is made durable before the status byte (`--sync`).
#[derive(Clone, Copy)]
enum SyncMode {
    /// fsync(2): data and all metadata.
    All,
    /// fdatasync(2): data and the metadata needed to read it (the size).
    Data,
}

fn usage() -> ! {
    eprintln!(
        "usage:\n  lane-v1-peer serve --listen HOST:PORT --dir DIR [--once] [--request-client-cert] [--sync all|data]\n  lane-v1-peer send FILE --to HOST:PORT [--no-client-cert]"
    );
    std::process::exit(64);
}

/// JSON string literal with the escapes JSON requires.
fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{:02x}", b)).collect()
}

fn emit(line: String) {
    use std::io::Write;
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    let _ = writeln!(lock, "{}", line);
    let _ = lock.flush();
}

fn resolve(s: &str) -> Result<SocketAddr, BoxError> {
    s.to_socket_addrs()?
        .next()
        .ok_or_else(|| format!("cannot resolve {}", s).into())
}

/// Fresh self-signed ECDSA P-256 / SHA-256 certificate, the kind the seed's Rust octopii makes
/// with `rcgen::generate_simple_self_signed` (rcgen's default algorithm). Deliberately not
/// Ed25519: octopii reads an Ed25519 self-signed certificate as a node identity, whereas this
/// peer must be a peer "without a verifiable identity", admitted only under
/// `--insecure`. Returns (certificate DER, PKCS#8 key DER).
fn self_signed() -> Result<(rustls::Certificate, rustls::PrivateKey), BoxError> {
    use openssl::asn1::{Asn1Integer, Asn1Time};
    use openssl::bn::{BigNum, MsbOption};
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use openssl::x509::extension::SubjectAlternativeName;
    use openssl::x509::{X509NameBuilder, X509};

    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    let key = PKey::from_ec_key(EcKey::generate(&group)?)?;
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", "lane-v1-peer")?;
    let name = name.build();
    let mut serial = BigNum::new()?;
    serial.rand(63, MsbOption::MAYBE_ZERO, false)?;
    let serial = Asn1Integer::from_bn(&serial)?;
    let not_before = Asn1Time::days_from_now(0)?;
    let not_after = Asn1Time::days_from_now(1)?;
    let mut b = X509::builder()?;
    b.set_version(2)?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(&name)?;
    b.set_issuer_name(&name)?;
    b.set_pubkey(&key)?;
    b.set_not_before(&not_before)?;
    b.set_not_after(&not_after)?;
    let san = SubjectAlternativeName::new()
        .dns("localhost")
        .ip("127.0.0.1")
        .ip("::1")
        .build(&b.x509v3_context(None, None))?;
    b.append_extension(san)?;
    b.sign(&key, MessageDigest::sha256())?;
    let cert = b.build();
    // openssl 0.10.45 has no DER PKCS#8 writer (private_key_to_der gives SEC1 for EC keys,
    // which rustls refuses): take the PKCS#8 PEM and decode its base64 body.
    let pem = String::from_utf8(key.private_key_to_pem_pkcs8()?)?;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let pkcs8 = openssl::base64::decode_block(&body)?;
    Ok((rustls::Certificate(cert.to_der()?), rustls::PrivateKey(pkcs8)))
}

/// Accepts any server certificate (the handshake signature is still checked
/// against the presented certificate's key by rustls' default methods).
struct SkipServerVerification;

impl rustls::client::ServerCertVerifier for SkipServerVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::Certificate,
        _intermediates: &[rustls::Certificate],
        _server_name: &rustls::ServerName,
        _scts: &mut dyn Iterator<Item = &[u8]>,
        _ocsp_response: &[u8],
        _now: SystemTime,
    ) -> Result<rustls::client::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::ServerCertVerified::assertion())
    }
}

/// Asks clients for a certificate without requiring one and accepts any (self-signed) one; the
/// handshake signature is still checked against the presented certificate's key by rustls'
/// default methods.
struct OptionalClientCert;

impl rustls::server::ClientCertVerifier for OptionalClientCert {
    fn client_auth_mandatory(&self) -> Option<bool> {
        Some(false)
    }

    fn client_auth_root_subjects(&self) -> Option<rustls::DistinguishedNames> {
        Some(rustls::DistinguishedNames::new())
    }

    fn verify_client_cert(
        &self,
        _end_entity: &rustls::Certificate,
        _intermediates: &[rustls::Certificate],
        _now: SystemTime,
    ) -> Result<rustls::server::ClientCertVerified, rustls::Error> {
        Ok(rustls::server::ClientCertVerified::assertion())
    }
}

fn transport() -> Arc<quinn::TransportConfig> {
    let mut t = quinn::TransportConfig::default();
    t.max_idle_timeout(Some(Duration::from_secs(30).try_into().unwrap()));
    t.keep_alive_interval(Some(Duration::from_secs(5)));
    Arc::new(t)
}

// ---------------------------------------------------------------- serve

async fn serve(listen: SocketAddr, dir: PathBuf, once: bool, request_client_cert: bool, sync: SyncMode) -> Result<(), BoxError> {
    tokio::fs::create_dir_all(&dir).await?;
    let (cert, key) = self_signed()?;
    let builder = rustls::ServerConfig::builder().with_safe_defaults();
    let builder = if request_client_cert {
        builder.with_client_cert_verifier(Arc::new(OptionalClientCert))
    } else {
        builder.with_no_client_auth()
    };
    let mut crypto = builder.with_single_cert(vec![cert], key)?;
    crypto.alpn_protocols = vec![ALPN.to_vec()];
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    config.transport_config(transport());
    let endpoint = quinn::Endpoint::server(config, listen)?;
    let local = endpoint.local_addr()?;
    emit(format!(
        "{{\"event\":\"listening\",\"address\":{}}}",
        json_str(&local.to_string())
    ));

    let counter = Arc::new(AtomicU64::new(0));
    let dir = Arc::new(dir);
    loop {
        tokio::select! {
            incoming = endpoint.accept() => {
                let connecting = match incoming { Some(c) => c, None => break };
                let counter = counter.clone();
                let dir = dir.clone();
                tokio::spawn(async move {
                    let conn = match connecting.await {
                        Ok(c) => c,
                        Err(e) => {
                            emit(format!("{{\"event\":\"connection-failed\",\"error\":{}}}", json_str(&e.to_string())));
                            return;
                        }
                    };
                    let client_cert = conn
                        .peer_identity()
                        .and_then(|id| id.downcast::<Vec<rustls::Certificate>>().ok())
                        .map_or(false, |certs| !certs.is_empty());
                    while let Ok((send, recv)) = conn.accept_bi().await {
                        let counter = counter.clone();
                        let dir = dir.clone();
                        tokio::spawn(async move {
                            let n = counter.fetch_add(1, Ordering::SeqCst);
                            receive_one(send, recv, &dir, n, once, client_cert, sync).await;
                        });
                    }
                });
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    endpoint.close(0u32.into(), b"bye");
    endpoint.wait_idle().await;
    Ok(())
}

/// One transfer on one bidi stream: header, data (streamed to a file while
/// hashing), trailer, status byte.
/// With `once`, the process exits right after the status byte is handed to quinn (no FIN,
/// no wait for its acknowledgement, no CONNECTION_CLOSE), like a receiver process that ends
/// as soon as it has answered.
async fn receive_one(mut send: quinn::SendStream, mut recv: quinn::RecvStream, dir: &Path, n: u64, once: bool, client_cert: bool, sync: SyncMode) {
    let file = dir.join(format!("received-{}-{}.bin", std::process::id(), n));
    let result = receive_into(&mut recv, &file, sync).await;
    let (status, bytes, digest, error) = match result {
        Ok((bytes, computed, expected)) => {
            let status = if computed == expected { STATUS_OK } else { STATUS_MISMATCH };
            (status, bytes, hex(&computed), None)
        }
        Err(e) => (STATUS_ERROR, 0, String::new(), Some(e.to_string())),
    };
    if status != STATUS_OK {
        let _ = tokio::fs::remove_file(&file).await;
    }
    let write = async {
        send.write_all(&[status]).await?;
        if once {
            emit(format!("{{\"event\":\"received\",\"bytes\":{},\"sha256\":{},\"file\":{},\"status\":{},\"clientCert\":{}}}", bytes, json_str(&digest), json_str(&file.to_string_lossy()), status, client_cert));
            // Let the endpoint driver put the status byte on the wire, then vanish.
            tokio::time::sleep(Duration::from_millis(std::env::var("LANE_PEER_ONCE_DELAY_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(20))).await;
            std::process::exit(0);
        }
        send.finish().await?;
        Ok::<(), BoxError>(())
    };
    let ack_error = write.await.err().map(|e| e.to_string());
    let mut line = format!(
        "{{\"event\":\"received\",\"bytes\":{},\"sha256\":{},\"file\":{},\"status\":{},\"clientCert\":{}",
        bytes,
        json_str(&digest),
        json_str(&file.to_string_lossy()),
        status,
        client_cert
    );
    if let Some(e) = error.or(ack_error) {
        line.push_str(&format!(",\"error\":{}", json_str(&e)));
    }
    line.push('}');
    emit(line);
}

async fn receive_into(recv: &mut quinn::RecvStream, file: &Path, sync: SyncMode) -> Result<(u64, [u8; 32], [u8; 32]), BoxError> {
    let mut header = [0u8; 8];
    recv.read_exact(&mut header).await?;
    let size = u64::from_le_bytes(header);
    let mut out = tokio::fs::File::create(file).await?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BUF];
    let mut remaining = size;
    while remaining > 0 {
        let want = remaining.min(BUF as u64) as usize;
        let got = recv
            .read(&mut buf[..want])
            .await?
            .ok_or("stream ended before the announced size")?;
        hasher.update(&buf[..got]);
        out.write_all(&buf[..got]).await?;
        remaining -= got as u64;
    }
    out.flush().await?;
    match sync {
        SyncMode::All => out.sync_all().await?,
        SyncMode::Data => out.sync_data().await?,
    }
    drop(out);
    let mut expected = [0u8; 32];
    recv.read_exact(&mut expected).await?;
    let computed: [u8; 32] = hasher.finalize().into();
    Ok((size, computed, expected))
}

// ---------------------------------------------------------------- send

async fn send(path: PathBuf, to: SocketAddr, client_cert: bool) -> Result<u8, BoxError> {
    // Hash first (the trailer follows the data), then stream the file.
    let mut file = tokio::fs::File::open(&path).await?;
    let size = file.metadata().await?.len();
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BUF];
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let digest: [u8; 32] = hasher.finalize().into();

    let builder = rustls::ClientConfig::builder()
        .with_safe_defaults()
        .with_custom_certificate_verifier(Arc::new(SkipServerVerification));
    let mut crypto = if client_cert {
        let (cert, key) = self_signed()?;
        builder.with_single_cert(vec![cert], key)?
    } else {
        builder.with_no_client_auth()
    };
    crypto.alpn_protocols = vec![ALPN.to_vec()];
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    config.transport_config(transport());
    let bind: SocketAddr = if to.is_ipv6() { "[::]:0".parse()? } else { "0.0.0.0:0".parse()? };
    let endpoint = quinn::Endpoint::client(bind)?;
    let conn = tokio::time::timeout(Duration::from_secs(10), endpoint.connect_with(config, to, "localhost")?)
        .await
        .map_err(|_| "connect timed out")??;

    let (mut tx, mut rx) = conn.open_bi().await?;
    tx.write_all(&size.to_le_bytes()).await?;
    let mut file = tokio::fs::File::open(&path).await?;
    let mut sent = 0u64;
    while sent < size {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            return Err("file shrank while sending".into());
        }
        let n = n.min((size - sent) as usize);
        tx.write_all(&buf[..n]).await?;
        sent += n as u64;
    }
    tx.write_all(&digest).await?;
    // A receiver may stop reading (STOP_SENDING) as soon as it has the trailer, which makes
    // finish() fail although every byte arrived: the status byte is the verdict, not finish().
    let _ = tx.finish().await;
    let mut status = [0u8; 1];
    rx.read_exact(&mut status).await?;
    emit(format!("{{\"event\":\"sent\",\"bytes\":{},\"status\":{}}}", size, status[0]));
    conn.close(0u32.into(), b"done");
    endpoint.wait_idle().await;
    Ok(status[0])
}

// ---------------------------------------------------------------- main

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("serve") => {
            let (listen, dir) = match (flag(&args, "--listen"), flag(&args, "--dir")) {
                (Some(l), Some(d)) => (l, d),
                _ => usage(),
            };
            let once = args.iter().any(|a| a == "--once");
            let request_client_cert = args.iter().any(|a| a == "--request-client-cert");
            let sync = match flag(&args, "--sync").as_deref() {
                None | Some("all") => SyncMode::All,
                Some("data") => SyncMode::Data,
                Some(_) => usage(),
            };
            let result = async { serve(resolve(&listen)?, PathBuf::from(dir), once, request_client_cert, sync).await }.await;
            match result {
                Ok(()) => 0,
                Err(e) => {
                    emit(format!("{{\"event\":\"error\",\"error\":{}}}", json_str(&e.to_string())));
                    1
                }
            }
        }
        Some("send") => {
            let (file, to) = match (args.get(1).filter(|a| !a.starts_with("--")).cloned(), flag(&args, "--to")) {
                (Some(f), Some(t)) => (f, t),
                _ => usage(),
            };
            let client_cert = !args.iter().any(|a| a == "--no-client-cert");
            let result = async { send(PathBuf::from(file), resolve(&to)?, client_cert).await }.await;
            match result {
                Ok(status) if status == STATUS_OK => 0,
                Ok(_) => 1,
                Err(e) => {
                    emit(format!("{{\"event\":\"error\",\"error\":{}}}", json_str(&e.to_string())));
                    1
                }
            }
        }
        _ => usage(),
    };
    std::process::exit(code);
}
