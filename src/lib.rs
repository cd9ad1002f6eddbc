//! plinth: desired-state provisioning of the AWS resources data platforms ask their customers
//! to prepare.
//!
//! The pipeline is `spec` (load + validate) → `live` (read AWS into a snapshot) → `plan` (a
//! pure diff) → `render` (views) / `apply` (the executor). See ARCHITECTURE.md.

pub mod access;
pub mod apply;
pub mod archive;
pub mod aws;
pub mod cli;
pub mod diag;
pub mod fmt;
pub mod graph;
pub mod graph_view;
mod hash;
pub mod import;
pub mod lock;
pub mod memory;
pub mod model;
mod parallel;
pub mod permissions;
pub mod plan;
pub mod policy;
pub mod render;
pub mod saved;
pub mod spec;
pub mod state;
pub mod stop;
pub mod workflow;

#[cfg(test)]
mod layering;
