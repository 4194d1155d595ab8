//! A running node's pieces that are neither storage nor networking:
//!
//! - [`config`]: the TOML configuration, with defaults and checks;
//! - [`store`]: the store task, the single owner of the [`kampung_store::Registry`],
//!   reached through a cloneable [`store::StoreHandle`] over a bounded channel.
//!   The handle is also the [`kampung_sync::Replica`] the mesh replicates;
//! - [`replica`]: replication's answers computed on a registry, shared by the
//!   store task and [`replica::LocalReplica`] (a registry owned in place, for
//!   the deterministic simulation of the mesh).
//!
//! `kampung-node` assembles these with `kampung-mesh` into a running node.

pub mod config;
pub mod membership;
pub mod replica;
pub mod store;

pub use config::{Config, ConfigError};
pub use store::{spawn_store, StoreHandle};
