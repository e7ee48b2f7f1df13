pub mod core;
pub mod sandbox;
