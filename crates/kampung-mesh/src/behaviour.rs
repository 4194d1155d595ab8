//! The composed libp2p behaviour.

use std::time::Duration;

use libp2p::connection_limits::{self, ConnectionLimits};
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::NetworkBehaviour;
use libp2p::{gossipsub, identify, kad, mdns, ping, request_response, StreamProtocol};

use crate::codec::{Codec, PROTOCOL};
use crate::MeshConfig;

#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    /// Connections accepted from others at most (four times the peers this
    /// node dials): a hard ceiling against a flood. The event loop keeps
    /// the peers held well below it by trimming, so a newcomer always finds
    /// room (see `EventLoop::trim`).
    pub limits: connection_limits::Behaviour,
    pub identify: identify::Behaviour,
    pub ping: ping::Behaviour,
    pub gossipsub: crate::gate::Gated<gossipsub::Behaviour>,
    pub sync: request_response::Behaviour<Codec>,
    pub kad: Toggle<kad::Behaviour<kad::store::MemoryStore>>,
    pub mdns: Toggle<mdns::tokio::Behaviour>,
}

pub(crate) const IDENTIFY_PROTOCOL: &str = "/kampung/id/1";

/// How often a connection is pinged, each way.
const PING_EVERY: Duration = Duration::from_secs(60);

/// Boxed error: the form libp2p's `SwarmBuilder::with_behaviour` takes.
type BuildError = Box<dyn std::error::Error + Send + Sync>;

pub(crate) fn build(
    key: &libp2p::identity::Keypair,
    cfg: &MeshConfig,
    wire: std::sync::Arc<crate::codec::WireBytes>,
) -> Result<Behaviour, BuildError> {
    let peer_id = key.public().to_peer_id();
    let identify = identify::Behaviour::new(
        identify::Config::new(IDENTIFY_PROTOCOL.to_string(), key.public())
            .with_agent_version(format!(
                "kampung/{} {}",
                env!("CARGO_PKG_VERSION"),
                cfg.role.tag()
            ))
            .with_push_listen_addr_updates(true),
    );
    let gossip_config = gossip_config(cfg)?;
    let gossipsub = gossipsub::Behaviour::new(
        gossipsub::MessageAuthenticity::Signed(key.clone()),
        gossip_config,
    )?;
    let sync = request_response::Behaviour::with_codec(
        Codec::new(cfg.limits.clone(), wire),
        [(PROTOCOL, request_response::ProtocolSupport::Full)],
        request_response::Config::default()
            .with_request_timeout(cfg.request_timeout)
            .with_max_concurrent_streams(16),
    );
    let kad = cfg.kademlia.then(|| {
        let mut kad_config = kad::Config::new(StreamProtocol::new("/kampung/kad/1"));
        // No bootstrap of every bucket each 5 minutes: it dialled peers a
        // node then trimmed again, churn that was an idle node's largest
        // cost at 100 nodes (BENCHMARKS-regency-mesh.md). The event loop
        // walks while the node has fewer peers than it dials.
        kad_config.set_periodic_bootstrap_interval(None);
        let mut k =
            kad::Behaviour::with_config(peer_id, kad::store::MemoryStore::new(peer_id), kad_config);
        k.set_mode(Some(kad::Mode::Server));
        k
    });
    let mdns = if cfg.mdns {
        Some(mdns::tokio::Behaviour::new(
            mdns::Config::default(),
            peer_id,
        )?)
    } else {
        None
    };
    let incoming = u32::try_from(cfg.max_peers.saturating_mul(4)).unwrap_or(u32::MAX);
    Ok(Behaviour {
        limits: connection_limits::Behaviour::new(
            ConnectionLimits::default()
                .with_max_established_incoming(Some(incoming))
                .with_max_established_per_peer(Some(2)),
        ),
        identify,
        // Nothing here reads a ping (a failed one does not close a
        // connection): they only keep idle connections' NAT mappings warm,
        // for which a minute does; at ping's default of 15 s each way
        // they were a tenth of an idle node's traffic (BENCHMARKS-regency-mesh.md).
        ping: ping::Behaviour::new(ping::Config::new().with_interval(PING_EVERY)),
        gossipsub: crate::gate::Gated::new(gossipsub, cfg.membership.enforced()),
        sync,
        kad: Toggle::from(kad),
        mdns: Toggle::from(mdns),
    })
}

/// Gossip's settings (announcements: see ARCHITECTURE.md).
fn gossip_config(cfg: &MeshConfig) -> Result<gossipsub::Config, gossipsub::ConfigBuilderError> {
    gossipsub::ConfigBuilder::default()
        // Gossip's own upkeep (mesh repair, "I have" lists to 6 peers) once
        // a second, its default: at 500 ms and a quarter of all peers, an
        // idle node of a 50-node mesh sent ~9 KB/s of lists
        // (BENCHMARKS-regency-mesh.md). Announcements themselves are pushed
        // at once (flood publish from the writer, then the mesh).
        .heartbeat_interval(Duration::from_secs(1))
        .gossip_lazy(6)
        .gossip_factor(0.0)
        .validation_mode(gossipsub::ValidationMode::Strict)
        // The event loop accepts an announcement (and gossip forwards it)
        // only after the store applied it; see `Internal::AnnounceDone`.
        .validate_messages()
        .max_transmit_size(cfg.limits.max_inline + (16 << 10))
        // Every copy of an announcement after the first is waste: a node
        // that has one tells its mesh at once not to send it ("I don't
        // want", gossipsub 1.2), whatever its size (the default is only
        // above 1,000 bytes, and an owner's heartbeat is ~200). The mesh
        // forwards only after the store applied it (`validate_messages`),
        // so the word often arrives first: an idle node received each
        // heartbeat from most of its mesh (BENCHMARKS-regency-mesh.md).
        .idontwant_message_size_threshold(0)
        .message_id_fn(message_id)
        // How long a node remembers an announcement it has seen, so that it
        // neither takes it again nor asks for it in answer to an "I have"
        // list: ten minutes, not gossip's default of one. A node forwards
        // an announcement only within `history_length` heartbeats (5 s) of
        // taking it and offers it for `history_gossip` (3 s), so a copy can
        // travel on only while it finds nodes that do not remember it. With
        // one minute, on a loaded machine the last nodes took a message
        // more than a minute after the first had forgotten it, offered it
        // to them again, and the same announcements went round every
        // 1.5-2.5 minutes for good: at 223 nodes, after a district's cut
        // healed, 27,000 copies a minute taken after their cache window
        // (BENCHMARKS-regency-mesh.md). The ids are 16 bytes; at the
        // mesh's idle rate (an owner's heartbeat every 5 minutes) a node
        // remembers a few hundred.
        .duplicate_cache_time(SEEN_FOR)
        .mesh_n_low(4)
        .mesh_n(6)
        .mesh_n_high(12)
        .mesh_outbound_min(2)
        .build()
}

/// How long gossip remembers the id of an announcement it has seen.
pub(crate) const SEEN_FOR: Duration = Duration::from_secs(600);

/// A message's id in gossip's caches and in its "I have" and "I don't
/// want" lists: its sequence number and the last 8 bytes of its author's
/// peer id (16 bytes; the default, both in base 58 text, is ~70). Authors
/// sign their messages, and a certified member cannot choose another's
/// key tail, so two authors' ids do not collide.
fn message_id(message: &gossipsub::Message) -> gossipsub::MessageId {
    let mut id = Vec::with_capacity(16);
    id.extend_from_slice(&message.sequence_number.unwrap_or_default().to_be_bytes());
    if let Some(source) = &message.source {
        let bytes = source.to_bytes();
        id.extend_from_slice(&bytes[bytes.len().saturating_sub(8)..]);
    }
    gossipsub::MessageId::new(&id)
}

#[cfg(test)]
mod tests {
    use libp2p::gossipsub::{Message, TopicHash};
    use libp2p::identity::Keypair;

    use super::{gossip_config, message_id};
    use crate::MeshConfig;
    use kampung_core::Role;

    fn message(author: &Keypair, seqno: u64, data: &[u8]) -> Message {
        Message {
            source: Some(author.public().to_peer_id()),
            data: data.to_vec(),
            sequence_number: Some(seqno),
            topic: TopicHash::from_raw(crate::TOPIC),
        }
    }

    #[test]
    fn message_ids_are_short_and_name_one_message_of_one_author() {
        let (a, b) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
        let id = message_id(&message(&a, 7, b"heads"));
        assert_eq!(id.0.len(), 16, "a short id: {id:?}");
        // The same author and number: the same message, whatever it carries.
        assert_eq!(id, message_id(&message(&a, 7, b"other heads")));
        // Another number, or another author with the same number: another message.
        assert_ne!(id, message_id(&message(&a, 8, b"heads")));
        assert_ne!(id, message_id(&message(&b, 7, b"heads")));
    }

    #[test]
    fn a_node_remembers_an_announcement_longer_than_a_copy_can_travel() {
        let cfg = MeshConfig::new(Keypair::generate_ed25519(), Role::Auditor);
        let c = gossip_config(&cfg).unwrap();
        // One link of a chain of copies: a node takes a message, forwards
        // it within `history_length` heartbeats and offers it in "I have"
        // lists for `history_gossip` more; the next node asks for it.
        let link = c.heartbeat_interval() * (c.history_length() + c.history_gossip()) as u32;
        // A copy goes on only to nodes that do not remember it. The mesh's
        // diameter is a handful of links; a node that forgot a message
        // while copies still travel takes it again and offers it again,
        // and on a loaded machine the same messages went round for good.
        assert!(
            c.duplicate_cache_time() >= link * 64,
            "remembered for {:?}, a chain of 64 links takes {:?}",
            c.duplicate_cache_time(),
            link * 64
        );
    }
}
