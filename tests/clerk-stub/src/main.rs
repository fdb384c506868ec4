//! `clerk-stub`: run the Clerk stand-in.
//!
//! ```text
//! clerk-stub [--port N] [--admin-port N] [--secret-key sk_test_...] [--frontend-api HOST]
//!            [--authorized-party ORIGIN]
//! ```
//! Prints one JSON line with the URLs when both listeners are up, then serves until SIGINT/SIGTERM.

use clerk_stub::{Stub, StubConfig};

#[allow(clippy::print_stdout)]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    // `clerk-stub webhook SCENARIO ...`: send signed webhooks (clerk_stub::webhooks).
    if let Some(code) =
        clerk_stub::webhooks::cli(&std::env::args().skip(1).collect::<Vec<_>>()).await
    {
        return code;
    }
    let mut config = StubConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let Some(value) = args.next() else {
            eprintln!("clerk-stub: {flag} needs a value");
            return std::process::ExitCode::from(2);
        };
        let port = |v: &str| v.parse::<u16>().ok();
        match flag.as_str() {
            "--port" => match port(&value) {
                Some(p) => config.api_port = p,
                None => return usage(&flag),
            },
            "--admin-port" => match port(&value) {
                Some(p) => config.admin_port = p,
                None => return usage(&flag),
            },
            "--secret-key" => config.secret_key = value,
            "--frontend-api" => config.frontend_api = value,
            "--authorized-party" => config.default_azp = value,
            _ => return usage(&flag),
        }
    }
    let stub = match Stub::start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("clerk-stub: cannot listen: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    println!(
        "{}",
        serde_json::json!({
            "apiUrl": stub.api_url(),
            "adminUrl": stub.admin_url(),
            "issuer": stub.issuer(),
            "publishableKey": stub.publishable_key(),
        })
    );
    let term = async {
        #[cfg(unix)]
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
            return;
        }
        std::future::pending::<()>().await;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
    std::process::ExitCode::SUCCESS
}

fn usage(flag: &str) -> std::process::ExitCode {
    eprintln!(
        "clerk-stub: bad argument {flag}\nusage: clerk-stub [--port N] [--admin-port N] [--secret-key sk_test_...] [--frontend-api HOST] [--authorized-party ORIGIN]"
    );
    std::process::ExitCode::from(2)
}
