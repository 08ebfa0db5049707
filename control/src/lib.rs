//! The vrouter control plane: the Neutron-style model an operator writes in TOML, its
//! validation, the naming rules of the network node, the compilation into the data plane's
//! [`vrouter::tables::Snapshot`] and the text view `vrouter --check` prints. No DPDK here.

#![warn(missing_docs)]

pub mod addr;
pub mod api;
pub mod capture;
pub mod chains;
pub mod client;
pub mod compile;
mod compile_acl;
mod compile_dhcp;
mod compile_router;
mod credentials;
mod load;
pub mod model;
pub mod naming;
mod ops;
pub mod plane;
pub mod server;
pub mod service;
pub mod store;
pub mod table;
pub mod validate;
pub mod view;
pub mod views;

pub use compile::{compile, CompileError};
pub use credentials::PeerCred;
pub use load::{load_file, load_str, LoadError};
pub use model::Topology;
pub use plane::{DataPlane, MacFlow, Neighbour, RouteFlow, SessionFlow, ViewData};
pub use validate::ValidationError;
