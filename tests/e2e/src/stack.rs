//! The local stack for end-to-end tests: moto (behind the counting proxy), the Clerk stand-in,
//! and both functions under `cargo lambda watch`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clerk_stub::{Fault, MintRequest, Stub, StubConfig};
use serde_json::Value;

use crate::{Answer, CountingProxy, Moto, Watch, eventually};

pub const AZP: &str = "http://localhost:5173";
/// How long [`Stack::until`] asks before it fails: beyond every lifetime a test shortens (TTLs,
/// cool-downs, back-offs of a few seconds). Reached only when a test fails.
pub const UNTIL_WITHIN: Duration = Duration::from_secs(30);

/// The whole local stack, as the functions see it in `make dev`.
#[derive(Debug)]
pub struct Stack {
    pub stub: Stub,
    pub proxy: CountingProxy,
    /// moto, shared with the stacks running at the same time ([`Moto::shared`]).
    pub moto: Arc<Moto>,
    /// This stack's secret in moto (`clerk/e2e-<n>`).
    pub secret_id: String,
    pub watch: Watch,
    _rt: tokio::runtime::Runtime,
    pub minted: std::sync::Mutex<Vec<String>>,
    /// Requests sent through [`Stack::get`]: each makes one `request` log line.
    sent: AtomicUsize,
}

impl Stack {
    /// Starts everything; `clerk_down_at_start`: the stand-in refuses connections until told otherwise.
    pub fn start(clerk_down_at_start: bool) -> Self {
        Self::start_with(clerk_down_at_start, &[])
    }

    /// [`Stack::start`] with more (or overriding) environment variables for the functions.
    pub fn start_with(clerk_down_at_start: bool, extra_env: &[(&str, &str)]) -> Self {
        let started = std::time::Instant::now();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        // A test binary may run several stacks side by side: each has its own secret and log.
        static STACKS: AtomicUsize = AtomicUsize::new(0);
        let n = STACKS.fetch_add(1, Ordering::SeqCst);
        let stub = rt.block_on(Stub::start(StubConfig::default())).unwrap();
        let moto = Moto::shared();
        let secret_id = format!("clerk/e2e-{n}");
        moto.create_secret(&secret_id, &stub.secret_key());
        let proxy = CountingProxy::start(moto.port);
        let dir = crate::root().join("target/e2e-logs");
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join(format!("watch-{}-{n}.log", std::process::id()));
        let mut env = vec![
            ("CLERK_PUBLISHABLE_KEY", stub.publishable_key()),
            ("CLERK_AUTHORIZED_PARTIES", AZP.to_owned()),
            ("CLERK_SECRET_ID", secret_id.clone()),
            ("CLERK_API_URL", stub.api_url()),
            (
                "AWS_ENDPOINT_URL",
                format!("http://127.0.0.1:{}", proxy.port),
            ),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_ACCESS_KEY_ID", "test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            ("RUST_LOG", "info".to_owned()),
            // A short cool-down, so that rotation after the forged-token step needs no long wait.
            ("CLERK_JWKS_COOLDOWN_SECS", "2".to_owned()),
        ];
        env.extend(extra_env.iter().map(|(k, v)| (*k, (*v).to_owned())));
        if clerk_down_at_start {
            stub.set_fault(Fault::Down, 0);
        }
        let moto_up = started.elapsed();
        let watch = Watch::start(&env, log);
        eprintln!(
            "stack {n}: up in {:.1} s (moto and the stand-in {:.1} s); log {}",
            started.elapsed().as_secs_f64(),
            moto_up.as_secs_f64(),
            watch.log.display()
        );
        Self {
            stub,
            proxy,
            moto,
            secret_id,
            watch,
            _rt: rt,
            minted: std::sync::Mutex::new(Vec::new()),
            sent: AtomicUsize::new(0),
        }
    }

    pub fn mint(&self, req: Value) -> String {
        let t = self
            .stub
            .mint(&serde_json::from_value::<MintRequest>(req).unwrap());
        self.minted.lock().unwrap().push(t.clone());
        t
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> crate::Answer {
        self.sent.fetch_add(1, Ordering::SeqCst);
        crate::get(&self.watch.url(path), token)
    }

    /// Asks `GET path` until the answer is `status` with `reason` (any reason when empty), and
    /// returns it; every answer on the way must be one of `meanwhile` (status, reason).
    pub fn until(
        &self,
        what: &str,
        path: &str,
        token: &str,
        (status, reason): (u16, &str),
        meanwhile: &[(u16, &str)],
    ) -> Answer {
        eventually(what, UNTIL_WITHIN, || {
            let a = self.get(path, Some(token));
            if a.is(status, reason) {
                return Ok(a);
            }
            assert!(
                meanwhile.iter().any(|(st, r)| a.is(*st, r)),
                "{what}: unexpected on the way: {} {:?}",
                a.status,
                a.body
            );
            Err(a.summary())
        })
    }

    /// The protected function's process (it starts on its first request).
    pub fn protected_pid(&self) -> u32 {
        self.watch
            .function_pid("protected")
            .expect("the protected function runs")
    }

    /// The whole log, once it holds the line of every request sent through [`Stack::get`]
    /// (the functions' output reaches the file a little after their answers).
    pub fn settled_log(&self) -> String {
        let sent = self.sent.load(Ordering::SeqCst);
        eventually("a log line per request", Duration::from_secs(10), || {
            let lines = self
                .watch
                .json_log_lines()
                .iter()
                .filter(|l| l["fields"]["message"] == "request")
                .count();
            if lines >= sent {
                Ok(())
            } else {
                Err(format!("{lines} request lines for {sent} requests"))
            }
        });
        self.watch.log_text()
    }

    /// What every fault ends with: the protected function is still process `pid` (never
    /// restarted), no panic, and no secret key, token or signature in the log.
    pub fn assert_clean_run(&self, pid: u32) {
        assert_eq!(
            self.watch.function_pid("protected"),
            Some(pid),
            "the function was restarted"
        );
        let text = self.settled_log();
        assert!(!text.contains("panicked"), "a panic in the logs");
        for secret in [self.stub.secret_key(), StubConfig::default().secret_key] {
            assert!(!text.contains(&secret), "a secret key appears in the logs");
        }
        // Webhook signing secrets (docs/webhooks.md) are secrets too.
        assert!(
            !text.contains("whsec_"),
            "a webhook signing secret appears in the logs"
        );
        // API keys, M2M and OAuth tokens (docs/machine-auth.md) are secrets too.
        assert_eq!(
            machine_token_in(&text),
            None,
            "a machine token appears in the logs"
        );
        for token in self.minted.lock().unwrap().iter() {
            let sig = token.rsplit('.').next().unwrap();
            assert!(
                !text.contains(token.as_str()) && !text.contains(sig),
                "a token or its signature appears in the logs"
            );
        }
    }
}

/// The first `ak_`, `mt_` or `oat_` in `text` followed by what could be a machine token (8 or more
/// letters and digits), shortened for a failure message; `None` when there is none.
pub fn machine_token_in(text: &str) -> Option<String> {
    for prefix in ["ak_", "mt_", "oat_"] {
        for (i, _) in text.match_indices(prefix) {
            let before = text[..i].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            let rest: String = text[i + prefix.len()..]
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect();
            if rest.len() >= 8 {
                return Some(format!("{prefix}{}...", &rest[..4]));
            }
        }
    }
    None
}
