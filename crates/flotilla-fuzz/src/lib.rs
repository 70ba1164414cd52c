//! Fuzzing of the parsers that face the network; the properties are in `tests/`.
//!
//! Every parser is fed arbitrary bytes and strings, and inputs shaped like what it
//! expects (so the search reaches past the first check), and must answer with a value
//! or an error, never a panic, a hang or an overflow. `cargo test -p flotilla-fuzz`
//! runs a short search (256 cases per parser); `FLOTILLA_FUZZ_CASES=1000000 cargo test
//! --release -p flotilla-fuzz -- --nocapture` is the long run, printing each parser's
//! executions per second.
