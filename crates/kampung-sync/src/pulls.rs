//! The documents this node is pulling now, so that its concurrent sessions
//! (one per peer) and announcement handlers pull each document once.
//!
//! A node that joins a mesh starts a session with every new peer at once,
//! and each of them finds the same documents missing: without this, each
//! session fetched every document whole from its own peer, eight copies of
//! the regency for eight peers (BENCHMARKS-regency-mesh.md, the 223-node
//! attempt). Now the first session that wants a document pulls it; the
//! others wait for that pull to end, then pull from their own peer only
//! what they still lack of the heads it offered (usually nothing).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use futures::channel::oneshot;

/// The documents being pulled by this node's sessions; cloned into each.
/// Holds no more entries than pulls under way, and no more waiters than
/// sessions and announcement handlers waiting (both bounded by the caller).
#[derive(Debug, Clone, Default)]
pub struct Pulls(Arc<Mutex<HashMap<String, Vec<oneshot::Sender<()>>>>>);

/// Whose turn it is to pull a document.
pub(crate) enum Turn {
    /// Ours: pull it, and drop the claim when done (or failed).
    Mine(Claim),
    /// Another session pulls it: resolves when that pull ends either way.
    Wait(oneshot::Receiver<()>),
}

impl Pulls {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Vec<oneshot::Sender<()>>>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Claim `doc` for a pull, or get in line behind the pull under way.
    pub(crate) fn claim(&self, doc: &str) -> Turn {
        let mut pulling = self.lock();
        match pulling.get_mut(doc) {
            Some(waiters) => {
                let (tx, rx) = oneshot::channel();
                waiters.push(tx);
                Turn::Wait(rx)
            }
            None => {
                pulling.insert(doc.to_string(), Vec::new());
                Turn::Mine(Claim {
                    pulls: self.clone(),
                    doc: doc.to_string(),
                })
            }
        }
    }

    /// How many documents are being pulled now.
    pub fn in_flight(&self) -> usize {
        self.lock().len()
    }
}

/// A pull under way; dropping it (done, failed or cancelled with its
/// session) wakes every session waiting for the document.
pub(crate) struct Claim {
    pulls: Pulls,
    doc: String,
}

impl Drop for Claim {
    fn drop(&mut self) {
        // Dropping the senders resolves every waiter's receiver.
        let waiters = self.pulls.lock().remove(&self.doc);
        drop(waiters);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pull_per_document_and_waiters_wake_when_it_ends() {
        let pulls = Pulls::new();
        let Turn::Mine(claim) = pulls.claim("v/35.10.15.2012") else {
            panic!("nobody pulls it yet");
        };
        let Turn::Wait(mut waiter) = pulls.claim("v/35.10.15.2012") else {
            panic!("a second session must wait");
        };
        assert!(matches!(pulls.claim("v/35.10.15.2013"), Turn::Mine(_)));
        assert_eq!(waiter.try_recv(), Ok(None), "still pulling");
        assert_eq!(pulls.in_flight(), 1, "the other claim was dropped at once");
        drop(claim);
        assert!(waiter.try_recv().is_err(), "the waiter is woken");
        assert_eq!(pulls.in_flight(), 0);
        assert!(matches!(pulls.claim("v/35.10.15.2012"), Turn::Mine(_)));
    }
}
