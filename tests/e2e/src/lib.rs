//! The local stack for end-to-end tests: moto's Secrets Manager (behind a counting proxy), the
//! Clerk stand-in, and the functions under `cargo lambda watch`. Every process is started on a
//! free loopback port and stopped (with its process group) when its guard drops; several stacks
//! can run side by side in one test process. Watch runs the functions built when the test process
//! started ([`Watch::start`]). Tests wait for a condition with [`eventually`], never a fixed sleep.

#![allow(
    clippy::print_stderr,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::missing_panics_doc
)]

use std::hash::{BuildHasher as _, Hasher as _};
use std::io::{BufRead as _, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub mod stack;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A free loopback port for a server that a child process will bind later.
///
/// Chosen at random below the kernel's ephemeral range, so that no outgoing connection made
/// meanwhile (each takes its source port from that range) can hold it when the child binds, and
/// never handed out twice by this process. Port 0 would pick from inside the range.
pub fn free_port() -> u16 {
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let (low, high) = port_pool();
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for _ in 0..1000 {
        let seed = std::hash::RandomState::new().build_hasher().finish();
        let port = low + u16::try_from(seed % u64::from(high - low)).unwrap();
        if !given.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.push(port);
            return port;
        }
    }
    panic!("no free loopback port in {low}..{high}");
}

/// Ports below the ephemeral range (`ip_local_port_range`, from 32768 by default).
fn port_pool() -> (u16, u16) {
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .filter(|low| *low >= 12_000)
        .unwrap_or(32768);
    (10_000, ephemeral_low)
}

/// A tool from the project's venv (`make setup`), else from PATH.
pub fn tool(name: &str) -> PathBuf {
    let venv = root().join(".venv/bin").join(name);
    if venv.exists() {
        return venv;
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.exists())
    });
    found.unwrap_or_else(|| {
        panic!("{name} not found: run `make setup` (or `make test`, which runs it)")
    })
}

/// How often [`eventually`] asks again.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Asks `attempt` every [`POLL_INTERVAL`] until it returns `Ok`, and returns that; fails once
/// `within` has passed, with the last `Err` (the last answer seen).
///
/// For conditions a test can only observe by asking (a TTL, a back-off or a cool-down that has
/// passed inside the process under test): a fixed sleep is too short on a busy machine and
/// wasted on an idle one. `within` is a deadline for failure, not a wait: a test that passes
/// never reaches it. `attempt` may panic on an answer that must never be seen on the way.
pub fn eventually<T, E: std::fmt::Debug>(
    what: &str,
    within: Duration,
    mut attempt: impl FnMut() -> Result<T, E>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        match attempt() {
            Ok(v) => return v,
            Err(last) => {
                assert!(
                    Instant::now() < deadline,
                    "{what}: not within {within:?}; last answer: {last:?}"
                );
                std::thread::sleep(POLL_INTERVAL);
            }
        }
    }
}

pub fn wait_for_port(port: u16, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listens on 127.0.0.1:{port} after {timeout:?}");
}

/// A child process in its own process group, stopped with SIGINT (then SIGKILL) on drop.
#[derive(Debug)]
pub struct Proc {
    name: &'static str,
    child: Child,
}

impl Proc {
    pub fn spawn(name: &'static str, cmd: &mut Command) -> Self {
        use std::os::unix::process::CommandExt as _;
        let child = cmd
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Self { name, child }
    }
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-INT", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &group])
                    .stderr(Stdio::null())
                    .status();
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("{} did not stop on SIGINT; killing", self.name);
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// moto's Secrets Manager server.
#[derive(Debug)]
pub struct Moto {
    pub port: u16,
    _proc: Proc,
}

impl Moto {
    /// One server for the users of this test process that run at the same time: started by the
    /// first, stopped when the last one drops it (moto takes seconds to start; the tests of a file
    /// run side by side). Each user keeps to secret names of its own.
    pub fn shared() -> Arc<Self> {
        static SHARED: Mutex<std::sync::Weak<Moto>> = Mutex::new(std::sync::Weak::new());
        let mut slot = SHARED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(moto) = slot.upgrade() {
            return moto;
        }
        let moto = Arc::new(Self::start());
        *slot = Arc::downgrade(&moto);
        moto
    }

    pub fn start() -> Self {
        let port = free_port();
        let proc = Proc::spawn(
            "moto_server",
            Command::new(tool("moto_server"))
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        wait_for_port(port, Duration::from_secs(30));
        Self { port, _proc: proc }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Calls a Secrets Manager action (moto does not check signatures).
    pub fn call(&self, action: &str, body: &Value) -> (u16, Value) {
        let resp = reqwest::blocking::Client::new()
            .post(self.url())
            .header("X-Amz-Target", format!("secretsmanager.{action}"))
            .header("Content-Type", "application/x-amz-json-1.1")
            .header(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=test/20261129/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body(body.to_string())
            .send()
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().unwrap_or(Value::Null))
    }

    pub fn create_secret(&self, name: &str, value: &str) {
        let (status, body) = self.call(
            "CreateSecret",
            &json!({"Name": name, "SecretString": value}),
        );
        assert_eq!(status, 200, "CreateSecret: {body}");
    }

    pub fn put_secret(&self, name: &str, value: &str) {
        let (status, body) = self.call(
            "PutSecretValue",
            &json!({"SecretId": name, "SecretString": value}),
        );
        assert_eq!(status, 200, "PutSecretValue: {body}");
    }

    pub fn delete_secret(&self, name: &str) {
        let (status, body) = self.call(
            "DeleteSecret",
            &json!({"SecretId": name, "ForceDeleteWithoutRecovery": true}),
        );
        assert_eq!(status, 200, "DeleteSecret: {body}");
    }
}

/// What the proxy in front of Secrets Manager does with a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum SmMode {
    /// Forwarded to moto.
    Pass = 0,
    /// Closed at once: connection refused, as far as the client can tell.
    Down = 1,
    /// Every request answered `400 ThrottlingException`, as Secrets Manager does past its rate.
    Throttled = 2,
}

/// A TCP proxy in front of Secrets Manager that counts `GetSecretValue` requests (forwarded or
/// refused) and can play "down" or "throttled". Switching away from `Pass` drops the connections
/// in flight, so that pooled connections see the fault too.
#[derive(Debug)]
pub struct CountingProxy {
    pub port: u16,
    pub get_secret_value: Arc<AtomicU64>,
    mode: Arc<std::sync::atomic::AtomicU8>,
    conns: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
    _rt: tokio::runtime::Runtime,
}

/// Secrets Manager's answer past its request rate.
fn throttled_response() -> String {
    let body = r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#;
    format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.1\r\n\
         x-amzn-RequestId: 00000000-0000-0000-0000-000000000000\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn count_hits(bytes: &[u8]) -> u64 {
    let text = String::from_utf8_lossy(bytes).to_ascii_lowercase();
    text.matches("x-amz-target: secretsmanager.getsecretvalue")
        .count() as u64
}

/// Reads one HTTP request (headers and `Content-Length` body) from `conn`.
async fn read_request(conn: &mut tokio::net::TcpStream) -> Vec<u8> {
    use tokio::io::AsyncReadExt as _;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return buf;
            }
        }
        match conn.read(&mut chunk).await {
            Ok(0) | Err(_) => return buf,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

impl CountingProxy {
    pub fn start(upstream: u16) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let count = Arc::new(AtomicU64::new(0));
        let mode = Arc::new(std::sync::atomic::AtomicU8::new(SmMode::Pass as u8));
        let conns = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (c, m, cs) = (count.clone(), mode.clone(), conns.clone());
        rt.spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    // Out of file descriptors, say: wait rather than spin.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let mode = m.load(Ordering::SeqCst);
                if mode == SmMode::Down as u8 {
                    drop(client);
                    continue;
                }
                let c = c.clone();
                if mode == SmMode::Throttled as u8 {
                    tokio::spawn(async move {
                        use tokio::io::AsyncWriteExt as _;
                        let req = read_request(&mut client).await;
                        c.fetch_add(count_hits(&req), Ordering::SeqCst);
                        let _ = client.write_all(throttled_response().as_bytes()).await;
                        let _ = client.shutdown().await;
                    });
                    continue;
                }
                let task = tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                    else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let up = async {
                        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
                        let mut buf = vec![0u8; 16 * 1024];
                        loop {
                            let n = match cr.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            c.fetch_add(count_hits(&buf[..n]), Ordering::SeqCst);
                            if sw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = sw.shutdown().await;
                    };
                    let down = async {
                        let _ = tokio::io::copy(&mut sr, &mut cw).await;
                    };
                    tokio::join!(up, down);
                });
                let mut list = cs.lock().unwrap();
                list.retain(|h: &tokio::task::AbortHandle| !h.is_finished());
                list.push(task.abort_handle());
            }
        });
        Self {
            port,
            get_secret_value: count,
            mode,
            conns,
            _rt: rt,
        }
    }

    /// `GetSecretValue` requests that reached the proxy (forwarded or throttled).
    pub fn count(&self) -> u64 {
        self.get_secret_value.load(Ordering::SeqCst)
    }

    pub fn set_mode(&self, mode: SmMode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
        if mode != SmMode::Pass {
            for h in self.conns.lock().unwrap().drain(..) {
                h.abort();
            }
        }
    }

    pub fn set_down(&self, down: bool) {
        self.set_mode(if down { SmMode::Down } else { SmMode::Pass });
    }
}

/// `cargo lambda watch` serving both functions at their API Gateway paths.
#[derive(Debug)]
pub struct Watch {
    pub port: u16,
    pub log: PathBuf,
    proc: Proc,
}

impl Watch {
    pub fn start(env: &[(&str, String)], log: PathBuf) -> Self {
        let cargo = prebuilt_cargo();
        let port = free_port();
        let out = std::fs::File::create(&log).unwrap();
        let err = out.try_clone().unwrap();
        let mut cmd = Command::new(tool("cargo-lambda"));
        cmd.current_dir(root())
            .args([
                "lambda",
                "watch",
                "-A",
                "127.0.0.1",
                "-P",
                &port.to_string(),
                "--ignore-changes",
            ])
            .env("PATH", path_with_venv())
            .env("CARGO", cargo)
            .stdout(out)
            .stderr(err);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let proc = Proc::spawn("cargo lambda watch", &mut cmd);
        wait_for_port(port, Duration::from_secs(60));
        let w = Self { port, log, proc };
        // First invocations compile (or at least start) the functions.
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            if let Ok(r) = reqwest::blocking::get(w.url("/api/health"))
                && r.status() == 200
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "cargo lambda watch never answered /api/health; see {}",
                w.log.display()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
        w
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The pid of this watch's running function process named `name`: a descendant of the watch
    /// process, so that several stacks can run side by side.
    pub fn function_pid(&self, name: &str) -> Option<u32> {
        let procs = process_table();
        let parent: std::collections::HashMap<u32, u32> =
            procs.iter().map(|p| (p.pid, p.ppid)).collect();
        let descends = |mut pid: u32| {
            for _ in 0..64 {
                match parent.get(&pid) {
                    Some(&ppid) if ppid == self.proc.pid() => return true,
                    Some(&ppid) if ppid > 1 => pid = ppid,
                    _ => return false,
                }
            }
            false
        };
        procs
            .iter()
            .find(|p| p.comm == name && descends(p.pid))
            .map(|p| p.pid)
    }

    /// Resident memory of the running function process named `name`, in KiB.
    pub fn function_rss_kib(&self, name: &str) -> Option<u64> {
        let pid = self.function_pid(name)?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }

    /// Lines of the functions' JSON logs.
    pub fn json_log_lines(&self) -> Vec<Value> {
        BufReader::new(std::fs::File::open(&self.log).unwrap())
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| l.find('{').and_then(|i| serde_json::from_str(&l[i..]).ok()))
            .collect()
    }
}

struct ProcInfo {
    pid: u32,
    ppid: u32,
    comm: String,
}

/// Every process: pid, parent and name, from `/proc/<pid>/stat`.
fn process_table() -> Vec<ProcInfo> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // `pid (comm) state ppid ...`; comm may itself hold spaces or parentheses.
        let (head, rest) = stat.rsplit_once(')')?;
        let comm = head.split_once('(')?.1.to_owned();
        let ppid = rest.split_whitespace().nth(1)?.parse().ok()?;
        Some(ProcInfo { pid, ppid, comm })
    })
    .collect()
}

/// Builds both functions once per test process, as `cargo lambda watch` would (`cargo run --bin
/// <name>`: the same features), and returns a `cargo` for watch to use instead of the real one
/// (watch runs `$CARGO`): `cargo run ... --bin <name>` runs the binary built here, anything else
/// goes to the real cargo.
///
/// Without it every function start is a `cargo run` that waits for the build lock of the shared
/// `target/` (minutes, while another build runs) and rebuilds whatever changed in the tree since
/// the test began, while the test's request waits; with it, a run tests the code it started with.
fn prebuilt_cargo() -> PathBuf {
    static SHIM: OnceLock<PathBuf> = OnceLock::new();
    SHIM.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        for bin in ["public", "protected", "webhooks"] {
            let status = Command::new(&cargo)
                .current_dir(root())
                .args(["build", "--quiet", "--bin", bin])
                .status()
                .unwrap_or_else(|e| panic!("cargo build --bin {bin}: {e}"));
            assert!(status.success(), "cargo build --bin {bin} failed");
        }
        // Relative to the workspace, where the build above ran.
        let target = root().join(std::env::var_os("CARGO_TARGET_DIR").unwrap_or("target".into()));
        // One per test process: a script another process is running cannot be rewritten.
        let dir = target.join(format!("e2e-cargo/{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let shim = dir.join("cargo");
        let script = format!(
            "#!/bin/sh\n\
             # Written by the e2e tests (tests/e2e/src/lib.rs): `cargo run ... --bin NAME` runs\n\
             # {debug}/NAME, built when the tests started; anything else is the real cargo.\n\
             if [ \"$1\" = run ]; then\n\
             \x20 while [ $# -gt 0 ]; do [ \"$1\" = --bin ] && exec '{debug}'/\"$2\"; shift; done\n\
             fi\n\
             exec '{cargo}' \"$@\"\n",
            debug = target.join("debug").display(),
        );
        std::fs::write(&shim, script).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
        shim
    })
    .clone()
}

/// PATH with the venv first (cargo lambda finds zig there).
pub fn path_with_venv() -> String {
    let venv = root().join(".venv/bin");
    format!(
        "{}:{}",
        venv.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// An HTTP answer: status, headers, JSON body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    /// The body's `reason` ("" when there is none).
    pub fn reason(&self) -> &str {
        self.body["reason"].as_str().unwrap_or_default()
    }

    /// Status and body, for a failure message.
    pub fn summary(&self) -> String {
        format!("{} {}", self.status, self.body)
    }

    /// Whether this is `status` with `reason` (any reason when `reason` is empty).
    pub fn is(&self, status: u16, reason: &str) -> bool {
        self.status == status && (reason.is_empty() || self.reason() == reason)
    }
}

pub fn get(url: &str, token: Option<&str>) -> Answer {
    request("GET", url, token)
}

pub fn request(method: &str, url: &str, token: Option<&str>) -> Answer {
    // Generous: a function that has to start (or be rebuilt by watch) answers its first request
    // late. Tests that bound a time measure it themselves.
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(90))
        .build()
        .unwrap();
    let mut req = client.request(method.parse().unwrap(), url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.json().unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

pub fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}
