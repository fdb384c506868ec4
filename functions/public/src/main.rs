//! The public function: `GET /api/health` and `GET /api/public`. Needs no secret, reads none.

mod handler;

use lambda_http::Error;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::logging::init();
    shared::lambda::run(|req| async move { handler::handle(&req) }).await
}
