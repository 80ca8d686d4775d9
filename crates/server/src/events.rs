//! New-data notices for online clients: after a write commits, the API publishes the feed head;
//! each `/api/v1/events` stream forwards it and the client pulls. Writes committed by other
//! server instances on the same PostgreSQL arrive through `Storage::subscribe_changes`
//! (LISTEN/NOTIFY), which publishes here too. Polling remains the fallback, so a lost notice only
//! delays a pull, and a repeated one costs an empty pull.
//!
//! Must not: carry data (clients always pull), or be the only way an instance learns of writes
//! once several instances share PostgreSQL (the backend's listener is).

use tokio::sync::broadcast;

/// The notice channel.
#[derive(Clone, Debug)]
pub struct Events {
    sender: broadcast::Sender<i64>,
}

impl Default for Events {
    fn default() -> Self {
        Events { sender: broadcast::channel(256).0 }
    }
}

impl Events {
    /// Announces that the feed reached `head`.
    pub fn publish(&self, head: i64) {
        // No subscriber is normal (nobody online).
        let _ = self.sender.send(head);
    }

    /// A receiver of future notices.
    pub fn subscribe(&self) -> broadcast::Receiver<i64> {
        self.sender.subscribe()
    }
}
