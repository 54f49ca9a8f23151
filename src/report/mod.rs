//! Compliance output made from the configuration and the evidence log: what an operator
//! publishes and hands over (issue 16).

pub mod crawler_info;
