//! An existing reqwest scraper, made compliant by one `.with(...)` line.
//!
//! ```text
//! cargo run --example middleware --features reqwest-middleware -- https://example.com/
//! ```
//!
//! Every request goes through optout's pipeline: robots.txt, tdmrep.json, ai.txt and the
//! excluded domains are checked before it is sent, the host is paced, the response is
//! re-checked (`noai`, TDMRep headers, paywall markup) and everything is recorded in the
//! evidence log (`optout log verify` checks it).

use optout::config::Config;
use optout::evidence::EvidenceLog;
use optout::fetcher::Fetcher;
use optout::middleware::Optout;
use optout::policy::Purpose;
use optout::store::{Sled, Store};
use std::sync::Arc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::load(None)?;
    let store = Store::open(&optout::store::default_path())?;
    let log = Arc::new(EvidenceLog::open(store, config.evidence)?);
    let fetcher = Arc::new(Fetcher::new(
        &config,
        Arc::clone(&log),
        config.signals.load_lists(None)?,
    )?);

    // The scraper's own client, built by optout: redirects are left to optout, which judges
    // every hop, and names are resolved through the private-address guard, so the address
    // checked is the address connected to. Add timeouts and the like to the builder.
    let inner = Optout::client_builder(&fetcher).build()?;
    let client = reqwest_middleware::ClientBuilder::new(inner)
        .with(Optout::new(fetcher, Purpose::TrainAi)) // the one line
        .build();

    for url in std::env::args().skip(1) {
        match client.get(&url).send().await {
            Ok(response) => {
                let status = response.status();
                let body = response.bytes().await?;
                println!("{url}: HTTP {status}, {} bytes", body.len());
            }
            // Refused, discarded, denied: the reasons, and no body.
            Err(e) => println!("{url}: {e}"),
        }
    }
    log.sync()?;
    Ok(())
}
