//! The source side: connections to both deployments, the change stream, and what its events
//! mean (`translate`, pure).

pub mod connect;
pub mod endpoint;
pub mod namespaces;
pub mod split;
pub mod stream;
pub mod translate;

pub use connect::Sides;
pub use endpoint::Endpoint;
pub use stream::{open_stream, open_stream_with, token_document, token_of, StartAt, StreamOptions};
