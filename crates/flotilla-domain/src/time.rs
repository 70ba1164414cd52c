//! Points in time: [`flotilla_core::time`], re-exported where the domain always had it.

pub use flotilla_core::time::*;
