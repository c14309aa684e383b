//! Lumen's domain: the learning-records model and (in later modules) the pure
//! analytics. This crate performs no IO: no database, no network, no clock
//! reads. Everything it needs is passed in.

pub mod analytics;
pub mod authz;
pub mod chart;
pub mod gamification;
pub mod import;
pub mod model;
pub mod oulad;
pub mod role;

pub use role::Role;
