//! The webhooks function: Clerk's signed events (Svix) on `POST /api/webhooks/clerk`, verified as
//! Clerk's `verifyWebhook` verifies them, kept in the users table (shared::users_table) that
//! `/api/me` reads. docs/webhooks.md.

pub mod app;
pub mod event;
pub mod secret;
pub mod signature;
#[cfg(test)]
mod tests;

pub use app::App;
