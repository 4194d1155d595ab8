//! Keeps a behaviour (gossip) from seeing or talking to a peer until the
//! peer has shown a valid certificate.
//!
//! libp2p hands a new connection to every behaviour at once, so gossipsub
//! would send our subscriptions, learn the peer's, and then forward
//! announcements (document heads and changes) to a peer nobody has checked.
//! [`Gated`] holds the connection back from the inner behaviour: it withholds
//! `ConnectionEstablished` and buffers (bounded) what the peer's handler
//! reports, and replays both once the event loop [`Gated::admit`]s the peer.
//! The inner behaviour never knows an unadmitted peer, so it never sends to it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::task::{Context, Poll, Waker};

use libp2p::core::transport::PortUse;
use libp2p::core::{ConnectedPoint, Endpoint};
use libp2p::swarm::behaviour::{ConnectionClosed, ConnectionEstablished};
use libp2p::swarm::{
    ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler, THandlerInEvent,
    THandlerOutEvent, ToSwarm,
};
use libp2p::{Multiaddr, PeerId};

/// Handler events kept per unadmitted peer at most; beyond it, the oldest go.
const MAX_HELD_EVENTS: usize = 64;

struct Held<E> {
    connections: Vec<(ConnectionId, ConnectedPoint)>,
    events: VecDeque<(ConnectionId, E)>,
}

impl<E> Default for Held<E> {
    fn default() -> Self {
        Held {
            connections: Vec::new(),
            events: VecDeque::new(),
        }
    }
}

/// A behaviour that sees only admitted peers.
pub(crate) struct Gated<B: NetworkBehaviour> {
    inner: B,
    /// Off: everyone is admitted (a mesh without a root key).
    enforced: bool,
    admitted: HashSet<PeerId>,
    held: HashMap<PeerId, Held<THandlerOutEvent<B>>>,
    /// Connections the inner behaviour has been told about.
    delivered: HashSet<ConnectionId>,
    replay: VecDeque<PeerId>,
    waker: Option<Waker>,
}

impl<B: NetworkBehaviour> Gated<B> {
    pub(crate) fn new(inner: B, enforced: bool) -> Self {
        Gated {
            inner,
            enforced,
            admitted: HashSet::new(),
            held: HashMap::new(),
            delivered: HashSet::new(),
            replay: VecDeque::new(),
            waker: None,
        }
    }

    pub(crate) fn inner_mut(&mut self) -> &mut B {
        &mut self.inner
    }

    fn is_admitted(&self, peer: &PeerId) -> bool {
        !self.enforced || self.admitted.contains(peer)
    }

    /// Let the inner behaviour see this peer from now on.
    pub(crate) fn admit(&mut self, peer: PeerId) {
        if self.admitted.insert(peer) && self.held.contains_key(&peer) {
            self.replay.push_back(peer);
            if let Some(w) = self.waker.take() {
                w.wake();
            }
        }
    }

    /// Forget an admission (the peer is being disconnected).
    pub(crate) fn expel(&mut self, peer: &PeerId) {
        self.admitted.remove(peer);
    }

    fn replay_one(&mut self, peer: PeerId) {
        let Some(held) = self.held.remove(&peer) else {
            return;
        };
        for (other, (id, endpoint)) in held.connections.iter().enumerate() {
            self.inner
                .on_swarm_event(FromSwarm::ConnectionEstablished(ConnectionEstablished {
                    peer_id: peer,
                    connection_id: *id,
                    endpoint,
                    failed_addresses: &[],
                    other_established: other,
                }));
            self.delivered.insert(*id);
        }
        for (id, event) in held.events {
            if self.delivered.contains(&id) {
                self.inner.on_connection_handler_event(peer, id, event);
            }
        }
    }
}

impl<B: NetworkBehaviour> NetworkBehaviour for Gated<B> {
    type ConnectionHandler = B::ConnectionHandler;
    type ToSwarm = B::ToSwarm;

    fn handle_pending_inbound_connection(
        &mut self,
        id: ConnectionId,
        local: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        self.inner
            .handle_pending_inbound_connection(id, local, remote)
    }

    fn handle_established_inbound_connection(
        &mut self,
        id: ConnectionId,
        peer: PeerId,
        local: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.inner
            .handle_established_inbound_connection(id, peer, local, remote)
    }

    fn handle_pending_outbound_connection(
        &mut self,
        id: ConnectionId,
        peer: Option<PeerId>,
        addresses: &[Multiaddr],
        role: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        self.inner
            .handle_pending_outbound_connection(id, peer, addresses, role)
    }

    fn handle_established_outbound_connection(
        &mut self,
        id: ConnectionId,
        peer: PeerId,
        addr: &Multiaddr,
        role: Endpoint,
        port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.inner
            .handle_established_outbound_connection(id, peer, addr, role, port_use)
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        match event {
            FromSwarm::ConnectionEstablished(e) if !self.is_admitted(&e.peer_id) => {
                self.held
                    .entry(e.peer_id)
                    .or_default()
                    .connections
                    .push((e.connection_id, e.endpoint.clone()));
            }
            FromSwarm::ConnectionEstablished(e) => {
                self.delivered.insert(e.connection_id);
                self.inner.on_swarm_event(event);
            }
            FromSwarm::ConnectionClosed(ConnectionClosed {
                peer_id,
                connection_id,
                ..
            }) if !self.delivered.contains(&connection_id) => {
                if let Some(h) = self.held.get_mut(&peer_id) {
                    h.connections.retain(|(id, _)| *id != connection_id);
                    h.events.retain(|(id, _)| *id != connection_id);
                    if h.connections.is_empty() {
                        self.held.remove(&peer_id);
                    }
                }
            }
            FromSwarm::ConnectionClosed(ConnectionClosed {
                peer_id,
                connection_id,
                remaining_established,
                ..
            }) => {
                self.delivered.remove(&connection_id);
                if remaining_established == 0 {
                    self.admitted.remove(&peer_id);
                }
                self.inner.on_swarm_event(event);
            }
            other => self.inner.on_swarm_event(other),
        }
    }

    fn on_connection_handler_event(
        &mut self,
        peer: PeerId,
        id: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        if self.delivered.contains(&id) {
            self.inner.on_connection_handler_event(peer, id, event);
            return;
        }
        if let Some(h) = self.held.get_mut(&peer) {
            if h.events.len() >= MAX_HELD_EVENTS {
                h.events.pop_front();
            }
            h.events.push_back((id, event));
        }
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        while let Some(peer) = self.replay.pop_front() {
            self.replay_one(peer);
        }
        self.waker = Some(cx.waker().clone());
        self.inner.poll(cx)
    }
}
