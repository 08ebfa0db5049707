//! The naming rules of the Neutron network node (SPEC.md §2), in one place: device names
//! from port ids, namespace names from router and network ids, GRE port names from remote
//! addresses, security-group chain names. Operators type and grep these names.

use crate::model::owner;
use std::net::Ipv4Addr;

/// How many characters of a port id a device name carries (`tap` + 11 = 14, Linux's limit).
pub const DEVICE_ID_CHARS: usize = 11;
/// How many characters of a port id a security-group chain name carries.
pub const CHAIN_ID_CHARS: usize = 10;

/// The first `n` characters of `id` (all of it when shorter), never splitting a character.
fn head(id: &str, n: usize) -> &str {
    id.char_indices().nth(n).map_or(id, |(i, _)| &id[..i])
}

/// `prefix` followed by the first 11 characters of `port_id`.
fn device(prefix: &str, port_id: &str) -> String {
    format!("{prefix}{}", head(port_id, DEVICE_ID_CHARS))
}

/// A VM NIC or a DHCP port: `tap1653ec91-ad`.
pub fn tap_name(port_id: &str) -> String {
    device("tap", port_id)
}

/// The Linux bridge a compute node puts between a VM's tap and br-int: `qbr1653ec91-ad`.
pub fn qbr_name(port_id: &str) -> String {
    device("qbr", port_id)
}

/// The bridge end of the veth pair to br-int: `qvb1653ec91-ad`.
pub fn qvb_name(port_id: &str) -> String {
    device("qvb", port_id)
}

/// The OVS end of the veth pair to br-int: `qvo1653ec91-ad`.
pub fn qvo_name(port_id: &str) -> String {
    device("qvo", port_id)
}

/// A router interface in `qrouter-…`: `qr-81388454-30`.
pub fn qr_name(port_id: &str) -> String {
    device("qr-", port_id)
}

/// A router gateway in `qrouter-…`: `qg-eb60f9c4-2d`.
pub fn qg_name(port_id: &str) -> String {
    device("qg-", port_id)
}

/// The device name of a port, by its `device_owner`: `qr-…` for a router interface,
/// `qg-…` for a router gateway, `tap…` for everything else (VM NICs, DHCP ports).
pub fn port_device_name(device_owner: &str, port_id: &str) -> String {
    match device_owner {
        owner::ROUTER_INTERFACE => qr_name(port_id),
        owner::ROUTER_GATEWAY => qg_name(port_id),
        _ => tap_name(port_id),
    }
}

/// The namespace of a router: `qrouter-680944ad-679c-4fe8-ae4b-258cd8ac337f`.
pub fn qrouter_ns(router_id: &str) -> String {
    format!("qrouter-{router_id}")
}

/// The DHCP namespace of a network: `qdhcp-7c22bbd9-166c-4610-9a3d-3b8b92c77518`.
pub fn qdhcp_ns(network_id: &str) -> String {
    format!("qdhcp-{network_id}")
}

/// The GRE port to a tunnel peer: `gre-` and the remote address in 8 lowercase hex digits
/// (10.0.1.31 → `gre-0a00011f`).
pub fn gre_port_name(remote_ip: Ipv4Addr) -> String {
    format!("gre-{:08x}", u32::from(remote_ip))
}

/// Which of a port's three security-group chains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chain {
    /// `i`: traffic into the VM.
    Ingress,
    /// `o`: traffic out of the VM.
    Egress,
    /// `s`: the source check (anti-spoofing) of traffic out of the VM.
    Source,
}

impl Chain {
    /// The letter the chain name carries: `i`, `o` or `s`.
    pub fn letter(self) -> char {
        match self {
            Chain::Ingress => 'i',
            Chain::Egress => 'o',
            Chain::Source => 's',
        }
    }
}

/// A port's security-group chain: `neutron-openvswi-` + letter + first 10 characters of
/// the port id (`neutron-openvswi-i1653ec91-a`).
pub fn sg_chain(chain: Chain, port_id: &str) -> String {
    format!(
        "neutron-openvswi-{}{}",
        chain.letter(),
        head(port_id, CHAIN_ID_CHARS)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const VM002: &str = "1653ec91-ad7d-40d9-b777-f74aec697026";

    #[test]
    fn device_names_match_the_seed() {
        assert_eq!(tap_name(VM002), "tap1653ec91-ad");
        assert_eq!(qbr_name(VM002), "qbr1653ec91-ad");
        assert_eq!(qvb_name(VM002), "qvb1653ec91-ad");
        assert_eq!(qvo_name(VM002), "qvo1653ec91-ad");
        assert_eq!(
            tap_name("d7233b80-9d4b-4ef6-a60d-19b3be661069"),
            "tapd7233b80-9d"
        );
        assert_eq!(
            port_device_name(
                owner::ROUTER_INTERFACE,
                "81388454-30e0-45e4-b3dd-b7b2e8dbf067"
            ),
            "qr-81388454-30"
        );
        assert_eq!(
            port_device_name(
                owner::ROUTER_GATEWAY,
                "eb60f9c4-2ddb-49ee-8b78-2fc2564a7600"
            ),
            "qg-eb60f9c4-2d"
        );
        assert_eq!(
            port_device_name(owner::DHCP, "2df7c3ed-dfbb-480d-9cd3-fdefa079e66a"),
            "tap2df7c3ed-df"
        );
        assert_eq!(port_device_name("compute:nova", VM002), "tap1653ec91-ad");
    }

    #[test]
    fn short_and_non_ascii_ids_do_not_panic() {
        assert_eq!(tap_name("abc"), "tapabc");
        assert_eq!(tap_name("ééééééééééééé"), "tapééééééééééé");
        assert_eq!(sg_chain(Chain::Source, ""), "neutron-openvswi-s");
    }

    #[test]
    fn namespaces_gre_ports_and_chains_match_the_seed() {
        assert_eq!(
            qrouter_ns("680944ad-679c-4fe8-ae4b-258cd8ac337f"),
            "qrouter-680944ad-679c-4fe8-ae4b-258cd8ac337f"
        );
        assert_eq!(
            qdhcp_ns("7c22bbd9-166c-4610-9a3d-3b8b92c77518"),
            "qdhcp-7c22bbd9-166c-4610-9a3d-3b8b92c77518"
        );
        assert_eq!(gre_port_name(Ipv4Addr::new(10, 0, 1, 31)), "gre-0a00011f");
        assert_eq!(gre_port_name(Ipv4Addr::new(10, 0, 1, 41)), "gre-0a000129");
        assert_eq!(gre_port_name(Ipv4Addr::new(10, 0, 1, 21)), "gre-0a000115");
        assert_eq!(
            sg_chain(Chain::Ingress, VM002),
            "neutron-openvswi-i1653ec91-a"
        );
        assert_eq!(
            sg_chain(Chain::Egress, VM002),
            "neutron-openvswi-o1653ec91-a"
        );
        assert_eq!(
            sg_chain(Chain::Ingress, "d7233b80-9d4b-4ef6-a60d-19b3be661069"),
            "neutron-openvswi-id7233b80-9"
        );
    }
}
