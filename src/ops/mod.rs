//! What operators see and touch: metrics, `/status`, the HTTP endpoints, logging, progress bars,
//! and the [`Reporter`] handle through which the pipeline reports.

mod events;
pub mod health;
pub mod http;
pub mod http_client;
pub mod labels;
pub mod logging;
pub mod metrics;
pub mod progress_bars;
pub mod reporter;
pub mod service;
pub mod status;

pub use labels::{Op, Phase, Side};
pub use progress_bars::ProgressBars;
pub use reporter::Reporter;
pub use service::{Http, Service};
pub use status::Status;
