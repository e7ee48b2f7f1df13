//! The sandbox: a fake HelpCrunch (being written).
