//! What a sync does: the one thing both the strategy (which requests pay) and the plan (what
//! each row becomes) depend on, so it sits below both.

use super::super::names::names;

/// What a sync does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// The tag ends up on exactly the audience: added where missing, removed from every other
    /// holder.
    Mirror,
    /// Only added, to the members who lack it.
    Add,
    /// Only removed, from the members who carry it.
    Remove,
}

names!(Mode as "mode" {
    Mirror => "mirror",
    Add => "add",
    Remove => "remove",
});

impl Mode {
    /// Whether the plan needs to know every current holder (to remove the tag from those
    /// outside the audience).
    pub const fn needs_all_holders(self) -> bool {
        matches!(self, Mode::Mirror)
    }
}
