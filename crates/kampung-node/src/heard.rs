//! When this node last heard from each document's owner (the mesh's
//! [`Heard`] map, what a verdict's copy age is read from), kept in the
//! node-local table `heard`: a checkpoint switched off in the evening, or
//! restarted during a cut, still says in the morning how old its copies
//! are, instead of "not known" until every owner's next heartbeat (up to
//! `heartbeat_secs`, 5 minutes by default). Its store kept the copies, so
//! their age counts from before the stop.

use std::collections::BTreeMap;
use std::time::Duration;

use kampung_core::DocId;
use kampung_mesh::Heard;
use kampung_store::local::LocalTable;
use kampung_store::StoreError;
use tokio_util::sync::CancellationToken;

/// The node-local table.
pub(crate) const TABLE: &str = "heard";
/// How often the map is written (and once more at a clean stop): a node
/// killed loses at most this much of it, which only makes its copies look
/// older than they are.
const SAVE_EVERY: Duration = Duration::from_secs(60);

/// Put what `table` holds into `heard` where it is newer; entries that do
/// not name a document of this mesh are skipped. Returns how many were put.
pub(crate) fn restore(table: &LocalTable, heard: &Heard) -> Result<usize, StoreError> {
    let mut put = 0;
    let Ok(mut map) = heard.write() else {
        return Ok(0);
    };
    for (key, value) in table.scan_prefix(b"")? {
        let doc = std::str::from_utf8(&key).ok().and_then(DocId::parse);
        let ms = <[u8; 8]>::try_from(value.as_slice())
            .ok()
            .map(i64::from_be_bytes);
        let (Some(doc), Some(ms)) = (doc, ms) else {
            continue;
        };
        let at = map.entry(doc).or_insert(ms);
        if *at <= ms {
            *at = ms;
            put += 1;
        }
    }
    Ok(put)
}

/// What was last written to the table, so that a save writes only the
/// owners heard since (about a fifth of them a minute, with heartbeats
/// every 5 minutes), not the whole map each time.
pub(crate) type Saved = BTreeMap<DocId, i64>;

/// Write into `table` what `heard` holds and `saved` does not; `saved`
/// follows what was written.
pub(crate) fn save(table: &LocalTable, heard: &Heard, saved: &mut Saved) -> Result<(), StoreError> {
    let changed: Vec<(DocId, i64)> = match heard.read() {
        Ok(map) => map
            .iter()
            .filter(|(d, ms)| saved.get(*d) != Some(*ms))
            .map(|(d, ms)| (d.clone(), *ms))
            .collect(),
        Err(_) => return Ok(()),
    };
    if changed.is_empty() {
        return Ok(());
    }
    for (doc, ms) in &changed {
        table.insert(doc.as_str().as_bytes(), &ms.to_be_bytes())?;
    }
    table.flush()?;
    saved.extend(changed);
    Ok(())
}

/// Save every [`SAVE_EVERY`] until `stop`, then once more.
pub(crate) async fn run(table: LocalTable, heard: Heard, stop: CancellationToken) {
    // The map of what was saved goes to the blocking save and comes back
    // with its result (empty if the save panicked: the next writes all).
    let save_now = |table: LocalTable, heard: Heard, mut saved: Saved| async move {
        let done = tokio::task::spawn_blocking(move || {
            let result = save(&table, &heard, &mut saved);
            (result, saved)
        });
        match done.await {
            Ok((Err(e), saved)) => {
                tracing::warn!(error = %e, "cannot keep when owners were last heard; copies will look older after a restart");
                saved
            }
            Ok((Ok(()), saved)) => saved,
            Err(e) => {
                tracing::warn!(error = %e, "saving when owners were last heard failed");
                Saved::new()
            }
        }
    };
    let mut saved = Saved::new();
    let mut tick = tokio::time::interval(SAVE_EVERY);
    tick.tick().await;
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = tick.tick() => saved = save_now(table.clone(), heard.clone(), saved).await,
        }
    }
    save_now(table, heard, saved).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, RwLock};

    fn card(code: &str) -> DocId {
        DocId::card(kampung_core::VillageCode::parse(code).unwrap())
    }

    #[test]
    fn what_was_heard_comes_back_after_a_restart_where_it_is_newer() {
        let table = LocalTable::memory();
        let before: Heard = Arc::new(RwLock::new(BTreeMap::from([
            (card("35.10.15.2012"), 1_000),
            (card("35.10.21.2003"), 5_000),
        ])));
        let mut saved = Saved::new();
        save(&table, &before, &mut saved).unwrap();
        assert_eq!(saved.len(), 2);
        // Something no version of this mesh names is skipped.
        table
            .insert(b"not a document", &7i64.to_be_bytes())
            .unwrap();

        // Since the restart one owner was heard again, later.
        let after: Heard = Arc::new(RwLock::new(BTreeMap::from([(
            card("35.10.21.2003"),
            9_000,
        )])));
        assert_eq!(restore(&table, &after).unwrap(), 1);
        let map = after.read().unwrap();
        assert_eq!(map.get(&card("35.10.15.2012")), Some(&1_000));
        assert_eq!(map.get(&card("35.10.21.2003")), Some(&9_000));
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn a_save_writes_only_the_owners_heard_since_the_last() {
        let table = LocalTable::memory();
        let (a, b) = (card("35.10.15.2012"), card("35.10.21.2003"));
        let heard: Heard = Arc::new(RwLock::new(BTreeMap::from([
            (a.clone(), 1_000),
            (b.clone(), 5_000),
        ])));
        let mut saved = Saved::new();
        save(&table, &heard, &mut saved).unwrap();
        // Were `a` written again, it would be back in the table.
        table.remove(a.as_str().as_bytes()).unwrap();
        heard.write().unwrap().insert(b.clone(), 8_000);
        save(&table, &heard, &mut saved).unwrap();
        assert_eq!(table.get(a.as_str().as_bytes()).unwrap(), None);
        assert_eq!(
            table.get(b.as_str().as_bytes()).unwrap(),
            Some(8_000i64.to_be_bytes().to_vec())
        );
        assert_eq!(saved.get(&b), Some(&8_000));
    }
}
