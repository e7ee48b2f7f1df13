//! What a sync does: the one thing both the strategy (which requests pay) and the plan (what
//! each row becomes) depend on, so it sits below both.

use super::super::error::{excerpt, Error, Result};

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

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::Mirror, Mode::Add, Mode::Remove];

    pub const fn name(self) -> &'static str {
        match self {
            Mode::Mirror => "mirror",
            Mode::Add => "add",
            Mode::Remove => "remove",
        }
    }

    pub fn parse(text: &str) -> Result<Mode> {
        Mode::ALL
            .into_iter()
            .find(|mode| mode.name() == text)
            .ok_or_else(|| {
                Error::value_error(format!(
                    "mode must be 'mirror', 'add' or 'remove', got {:?}",
                    excerpt(text, 20)
                ))
            })
    }

    /// Whether the plan needs to know every current holder (to remove the tag from those
    /// outside the audience).
    pub const fn needs_all_holders(self) -> bool {
        matches!(self, Mode::Mirror)
    }
}
