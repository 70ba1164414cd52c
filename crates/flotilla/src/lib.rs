//! The `flotilla` binary's edge: configuration, root credentials, the AWS CLI
//! profile, and the assembly of every API onto one HTTP listener.

pub mod aws_profile;
pub mod credentials;
pub mod dir_lock;
pub mod logging;
pub mod metrics;
pub mod node;
pub mod server;
pub mod wiring;
