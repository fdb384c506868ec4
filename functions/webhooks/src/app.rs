//! `POST /api/webhooks/clerk`: verify, then apply to the users table.
//!
//! Answers: 200 with what happened (`written`, `stale`: newer state kept, `duplicate`: this
//! delivery was applied before, `ignored`: a type not stored); 400 and nothing written when the
//! headers, timestamp, signature or body do not verify; 503 when Secrets Manager or the table is
//! unavailable (Svix retries; a retry converges: writes are conditional and idempotent); 500 on a
//! deployment error. Order per delivery: seen? -> conditional write -> remember the delivery id.
//! A failure between the write and the remembering is answered 503 and the retry re-applies the
//! same change, which its condition turns into no write.

use std::sync::Arc;

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;
use shared::clock::Clock;
use shared::error::Reason;
use shared::http::{ApiError, json};
use shared::routes::{Route, Routes, TableError as RouteTableError};
use shared::users_table::{Applied, DEDUP_TTL, TableError, UserStore};

use crate::event::{self, Action};
use crate::secret::{SecretReadError, WebhookSecret};
use crate::signature;

/// The route Clerk's endpoint points at.
pub const ROUTE: &str = "/api/webhooks/clerk";

/// The function's API: one route, public at the gateway, authenticated by its signature.
pub fn routes() -> Vec<Route<App>> {
    vec![Route::public(ROUTE, &[Method::POST], |app, ctx| {
        Box::pin(app.receive(ctx.req))
    })]
}

/// The function's long-lived parts.
#[derive(Debug)]
pub struct App {
    routes: Routes<App>,
    secret: WebhookSecret,
    store: Arc<dyn UserStore>,
    clock: Arc<dyn Clock>,
}

fn table_error(e: TableError) -> ApiError {
    if e.is_transient() {
        ApiError::new(Reason::StorageUnavailable).with_detail(e.to_string())
    } else {
        ApiError::internal(e.to_string())
    }
}

impl App {
    pub fn new(
        secret: WebhookSecret,
        store: Arc<dyn UserStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, RouteTableError> {
        Ok(Self {
            routes: Routes::new(routes())?,
            secret,
            store,
            clock,
        })
    }

    /// Any other path is 404, another method 405 (`Allow: POST`): this function holds no keys.
    pub async fn handle(&self, req: &Request) -> Response<Body> {
        self.routes.dispatch(self, None, req).await
    }

    async fn receive(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let key = self.secret.get().await.map_err(|e| match e {
            SecretReadError::Unavailable(d) => {
                ApiError::new(Reason::SecretUnavailable).with_detail(d)
            }
            SecretReadError::Invalid(d) => ApiError::internal(d),
        })?;
        // The body exactly as API Gateway received it (lambda_http decoded it if base64-encoded).
        let body: &[u8] = req.body().as_ref();
        let delivery = signature::verify(&[&key], req.headers(), body, self.clock.now_ms())
            .map_err(ApiError::new)?;
        let action = event::parse(body, &delivery.id, delivery.timestamp_s)
            .map_err(|what| ApiError::new(Reason::WebhookPayloadInvalid).with_detail(what))?;
        let change = match action {
            Action::Ignore { event_type } => {
                tracing::info!(
                    svix_id = delivery.id,
                    event_type,
                    outcome = "ignored",
                    "webhook"
                );
                return Ok(answer("ignored"));
            }
            Action::Store(change) => change,
        };
        if self.store.seen(&delivery.id).await.map_err(table_error)? {
            tracing::info!(
                svix_id = delivery.id,
                user_id = change.user_id(),
                outcome = "duplicate",
                "webhook"
            );
            return Ok(answer("duplicate"));
        }
        let applied = self.store.apply(&change).await.map_err(table_error)?;
        let expires_at_s = self.clock.now_ms() / 1000 + DEDUP_TTL.as_secs();
        self.store
            .remember(&delivery.id, expires_at_s)
            .await
            .map_err(table_error)?;
        tracing::info!(
            svix_id = delivery.id,
            user_id = change.user_id(),
            outcome = applied.as_str(),
            "webhook"
        );
        Ok(answer(match applied {
            Applied::Written => "written",
            Applied::Stale => "stale",
        }))
    }
}

fn answer(outcome: &str) -> Response<Body> {
    json(
        StatusCode::OK,
        &json!({"received": true, "outcome": outcome}),
    )
}
