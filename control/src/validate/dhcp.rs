//! What DHCP hands out: a subnet's DNS servers, host routes, domain and lease time within
//! Neutron's limits and the option sizes (RFC 2132), a port's DNS name as a host name.

use super::{Loc, Report};
use crate::model::{Port, Subnet};

/// Neutron's `max_dns_nameservers`.
const MAX_DNS_NAMESERVERS: usize = 5;
/// Neutron's `max_subnet_host_routes`.
const MAX_HOST_ROUTES: usize = 20;
/// Shortest lease a client should be given, in seconds.
const MIN_LEASE_SECS: u32 = 60;

/// True for a host name label (RFC 1123 §2.1): 1 to 63 letters, digits and hyphens, not
/// starting or ending with a hyphen.
fn is_label(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// True for a domain name of labels (RFC 1035 §2.3.4: at most 253 characters written),
/// a trailing dot allowed.
fn is_domain(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    s.len() <= 253 && s.split('.').all(is_label)
}

/// Checks the DHCP fields of subnet `s`.
pub(super) fn check_subnet(s: &Subnet, loc: &Loc, r: &mut Report) {
    if s.dns_nameservers.len() > MAX_DNS_NAMESERVERS {
        let msg = format!(
            "{} servers, at most {MAX_DNS_NAMESERVERS} are allowed",
            s.dns_nameservers.len()
        );
        r.add(loc, "dns_nameservers", msg);
    }
    if s.host_routes.len() > MAX_HOST_ROUTES {
        let msg = format!(
            "{} routes, at most {MAX_HOST_ROUTES} are allowed",
            s.host_routes.len()
        );
        r.add(loc, "host_routes", msg);
    }
    if let Some(d) = s.dns_domain.as_ref().filter(|d| !is_domain(d)) {
        r.add(loc, "dns_domain", format!("invalid domain name {d:?}"));
    }
    if let Some(l) = s.dhcp_lease_duration.filter(|&l| l < MIN_LEASE_SECS) {
        let msg = format!("{l} s is below the minimum of {MIN_LEASE_SECS} s");
        r.add(loc, "dhcp_lease_duration", msg);
    }
}

/// Checks the DHCP fields of port `p`.
pub(super) fn check_port(p: &Port, loc: &Loc, r: &mut Report) {
    if let Some(n) = p.dns_name.as_ref().filter(|n| !is_label(n)) {
        let msg = format!("invalid host name {n:?} (1-63 letters, digits, hyphens)");
        r.add(loc, "dns_name", msg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_domains() {
        assert!(is_label("vm001") && is_label("host-10-0-0-9"));
        assert!(!is_label("") && !is_label("-a") && !is_label("a-") && !is_label("a_b"));
        assert!(!is_label(&"a".repeat(64)));
        assert!(is_domain("openstacklocal") && is_domain("example.org."));
        assert!(!is_domain("a..b") && !is_domain("bad domain"));
        assert!(!is_domain(&vec!["a".repeat(63); 4].join(".")));
    }
}
