//! Placeholder replaced by the robots.txt benchmark.
fn main() {}
