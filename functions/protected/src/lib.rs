//! The protected function's routes and wiring, as a library: `main.rs` only starts it, and tests
//! and benchmarks call [`App::handle`] directly with API Gateway events.

pub mod app;
pub mod profile_cache;
#[cfg(test)]
mod tests;

pub use app::App;
