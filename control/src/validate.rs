//! Validation of a whole [`Topology`]: every error is collected, and each names the file,
//! the resource (kind and id, or `#index` when the id is missing) and the field:
//! `configs/x.toml: subnet c37d8ed0-…: cidr: invalid CIDR "10.0.0.0/33"`.

mod dhcp;
mod ids;
mod neighbour;
mod network;
mod port;
mod router;
mod security_group;
mod uplink;

use crate::model::Topology;
use std::fmt;

/// One problem in the model.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ValidationError {
    /// The file the model came from, if any.
    pub origin: Option<String>,
    /// The resource kind, as its TOML table is named (`subnet`, `port`, `uplink`, …).
    pub kind: &'static str,
    /// The resource id (`#3` for the fourth entry when it has none); empty for `[mac_table]`.
    pub id: String,
    /// The field, with its path inside the resource (`fixed_ips[0].ip_address`).
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// Its class: the value is wrong, or another resource already has it.
    pub problem: Problem,
}

/// The class of a [`ValidationError`], which the control socket answers with as
/// `invalid` or `conflict`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The value is wrong in itself or against the model's rules.
    Invalid,
    /// Another resource already has the value (an id, address, tag, key or device).
    InUse,
}

impl ValidationError {
    /// `origin: kind id: field: message`.
    fn render(&self) -> String {
        let origin = self.origin.as_ref().map(|o| format!("{o}: "));
        let id = if self.id.is_empty() {
            String::new()
        } else {
            format!(" {}", self.id)
        };
        format!(
            "{}{}{}: {}: {}",
            origin.unwrap_or_default(),
            self.kind,
            id,
            self.field,
            self.message
        )
    }
}

/// The messages of `errors`, one a line.
pub(crate) fn lines(errors: &[ValidationError]) -> String {
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

/// A resource errors are reported against.
#[derive(Clone, Debug)]
struct Loc {
    kind: &'static str,
    id: String,
}

impl Loc {
    /// The `index`th resource of `kind`, known by `id` unless that is empty.
    fn new(kind: &'static str, id: &str, index: usize) -> Loc {
        let id = if id.trim().is_empty() {
            format!("#{index}")
        } else {
            id.to_owned()
        };
        Loc { kind, id }
    }
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.id)
    }
}

/// The errors collected so far.
struct Report {
    origin: Option<String>,
    errors: Vec<ValidationError>,
}

impl Report {
    /// Records that `field` of the resource at `loc` is wrong.
    fn add(&mut self, loc: &Loc, field: impl Into<String>, message: impl Into<String>) {
        self.push(loc, field.into(), message.into(), Problem::Invalid);
    }

    /// Records that `field` of the resource at `loc` has a value another resource has.
    fn in_use(&mut self, loc: &Loc, field: impl Into<String>, message: impl Into<String>) {
        self.push(loc, field.into(), message.into(), Problem::InUse);
    }

    fn push(&mut self, loc: &Loc, field: String, message: String, problem: Problem) {
        self.errors.push(ValidationError {
            origin: self.origin.clone(),
            kind: loc.kind,
            id: loc.id.clone(),
            field,
            message,
            problem,
        });
    }
}

impl Topology {
    /// Checks the whole model; on failure returns every error found, in file order of the
    /// resource kinds (ids, networks, subnets, uplinks and peers, ports, routers, floating
    /// IPs, security groups, static neighbours).
    pub fn validate(&self) -> Result<(), Vec<ValidationError>> {
        let mut r = Report {
            origin: self.origin.clone(),
            errors: Vec::new(),
        };
        ids::check(self, &mut r);
        network::check_networks(self, &mut r);
        let subnets = network::check_subnets(self, &mut r);
        let peers = uplink::check(self, &mut r);
        port::check(self, &subnets, &peers, &mut r);
        router::check_routers(self, &subnets, &mut r);
        router::check_floatingips(self, &subnets, &mut r);
        security_group::check(self, &mut r);
        neighbour::check(self, &subnets, &mut r);
        if r.errors.is_empty() {
            Ok(())
        } else {
            Err(r.errors)
        }
    }
}
