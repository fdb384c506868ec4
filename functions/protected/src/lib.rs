//! The protected function's routes and wiring, as a library: `main.rs` only starts it, and tests
//! and benchmarks call [`App::handle`] directly with API Gateway events.

pub mod app;
pub mod profile_cache;
#[cfg(test)]
mod tests;

pub use app::App;

/// mimalloc: each request allocates and frees a few dozen small buffers (event, headers, claims,
/// response); glibc's malloc spent about a third of the time the handler adds to the signature
/// check on them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
