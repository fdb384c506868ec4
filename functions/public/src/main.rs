//! The public function: `GET /api/health` and `GET /api/public`. Needs no secret, reads none.

mod handler;

use lambda_http::{Error, run, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::logging::init();
    run(service_fn(|req| async move {
        Ok::<_, std::convert::Infallible>(handler::handle(&req))
    }))
    .await
}
