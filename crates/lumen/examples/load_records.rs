//! First touch of an organisation: how long `Store::load_records` and
//! `Dataset::new` take for the organisation with the most users in the
//! database named by `DATABASE_URL` (docs/performance.md, "Warm datasets").
//!
//! Run: `DATABASE_URL=… cargo run --release --example load_records [runs]`.

use std::collections::HashMap;
use std::time::Instant;

use lumen::store::Store;
use lumen_core::analytics::Dataset;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("DATABASE_URL")?;
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(3);
    let store = Store::open(&url, 4).await?;
    let mut by_org: HashMap<uuid::Uuid, usize> = HashMap::new();
    for u in store.users(None).await? {
        *by_org.entry(u.organization_id).or_default() += 1;
    }
    let (org, users) = by_org
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .ok_or_else(|| anyhow::anyhow!("no users"))?;
    println!(
        "backend {}, organisation {org} ({users} users)",
        store.backend()
    );
    for run in 1..=runs {
        let t = Instant::now();
        let records = store.load_records(org).await?;
        let loaded = t.elapsed();
        let t = Instant::now();
        let ds = tokio::task::spawn_blocking(move || Dataset::new(records)).await?;
        let indexed = t.elapsed();
        let n = lumen::datasets::record_count(&ds);
        let bytes = lumen::datasets::estimated_bytes(&ds);
        println!(
            "run {run}: load_records {:.2} s, Dataset::new {:.2} s, total {:.2} s; {n} records, \
             estimated {:.0} MiB ({:.0} bytes per record)",
            loaded.as_secs_f64(),
            indexed.as_secs_f64(),
            (loaded + indexed).as_secs_f64(),
            bytes as f64 / 1048576.0,
            bytes as f64 / n.max(1) as f64,
        );
    }
    Ok(())
}
