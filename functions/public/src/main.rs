//! The public function: `GET /api/health` and `GET /api/public`. Needs no secret, reads none.

mod handler;

use lambda_http::Error;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::logging::init();
    let routes = std::sync::Arc::new(handler::table()?);
    shared::lambda::run(|req| {
        let routes = routes.clone();
        async move { handler::handle(&routes, &req).await }
    })
    .await
}
