//! The local stack for end-to-end tests: moto (behind the counting proxy), the Clerk stand-in,
//! and both functions under `cargo lambda watch`.

use clerk_stub::{Fault, MintRequest, Stub, StubConfig};
use serde_json::Value;

use crate::{CountingProxy, Moto, Watch};

pub const SECRET_ID: &str = "clerk/e2e";
pub const AZP: &str = "http://localhost:5173";

/// The whole local stack, as the functions see it in `make dev`.
#[derive(Debug)]
pub struct Stack {
    pub stub: Stub,
    pub proxy: CountingProxy,
    pub moto: Moto,
    pub watch: Watch,
    _rt: tokio::runtime::Runtime,
    pub minted: std::sync::Mutex<Vec<String>>,
}

impl Stack {
    /// Starts everything; `clerk_down_at_start`: the stand-in refuses connections until told otherwise.
    pub fn start(clerk_down_at_start: bool) -> Self {
        Self::start_with(clerk_down_at_start, &[])
    }

    /// [`Stack::start`] with more (or overriding) environment variables for the functions.
    pub fn start_with(clerk_down_at_start: bool, extra_env: &[(&str, &str)]) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let stub = rt.block_on(Stub::start(StubConfig::default())).unwrap();
        let moto = Moto::start();
        moto.create_secret(SECRET_ID, &stub.secret_key());
        let proxy = CountingProxy::start(moto.port);
        let dir = crate::root().join("target/e2e-logs");
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join(format!("watch-{}.log", std::process::id()));
        let mut env = vec![
            ("CLERK_PUBLISHABLE_KEY", stub.publishable_key()),
            ("CLERK_AUTHORIZED_PARTIES", AZP.to_owned()),
            ("CLERK_SECRET_ID", SECRET_ID.to_owned()),
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
        let watch = Watch::start(&env, log);
        Self {
            stub,
            proxy,
            moto,
            watch,
            _rt: rt,
            minted: std::sync::Mutex::new(Vec::new()),
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
        crate::get(&self.watch.url(path), token)
    }
}
