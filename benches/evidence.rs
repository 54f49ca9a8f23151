//! Placeholder replaced by the evidence-log benchmark.
fn main() {}
