//! Who is acting. Every workflow takes an [`Actor`], so that the front door
//! that knows the person (a signed-in page, a token, the CLI on the node's
//! own machine) only has to say who it is; the workflow records it.

/// Who is acting on this node.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Actor {
    /// Nobody in particular: the node itself, a test, or a front door that
    /// does not know the person yet.
    #[default]
    Anonymous,
}

impl Actor {
    /// The node acting on its own behalf (no person behind it).
    pub fn anonymous() -> Actor {
        Actor::Anonymous
    }
}
