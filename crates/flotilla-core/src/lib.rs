//! What every Flotilla service needs once: the account and region it serves
//! ([`AccountContext`]), ARNs ([`Arn`]), timestamps in AWS's forms
//! ([`Timestamp`]), tags ([`tag`]), opaque page tokens ([`paging`]) and retry with
//! exponential backoff and full jitter ([`retry`]).
//!
//! No I/O besides the async sleep of [`retry::retry`]; nothing here knows a
//! particular AWS service.

pub mod account;
pub mod arn;
pub mod civil;
pub mod events;
pub mod histogram;
pub mod metrics;
pub mod paging;
pub mod retry;
pub mod tag;
pub mod time;

pub use account::AccountContext;
pub use arn::{Arn, ArnError};
pub use retry::Backoff;
pub use tag::{Tag, TagError};
pub use time::Timestamp;
