//! Read-only compiled configuration: the [`Snapshot`] a worker reads once per burst.
//!
//! The control plane builds a new snapshot for every accepted change and publishes it; the
//! data plane never mutates one. Indices are chosen to stay stable across snapshots so that
//! worker state (MAC table, neighbours) survives a change: a network is known by its local
//! VLAN tag, a device by its attachment index, a tunnel peer by its remote IPv4 address.

pub mod acl;
pub mod dhcp;
pub mod router;

use crate::wire::Mac;
use hashbrown::HashMap;
pub use router::{RouterConf, RouterPort, RouterPortIdx};

/// Index of a device (DPDK port) the appliance attached, in attachment order.
pub type PortIdx = u16;
/// A network's local VLAN tag on this node (1..=4094), as br-int assigns it.
pub type NetIdx = u16;

/// Where a frame for a MAC address goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dest {
    /// Out of a local device (untagged on an access port, tagged on a trunk).
    Port(PortIdx),
    /// Into a GRE tunnel to the peer with this remote IPv4 address (host byte order).
    Peer(u32),
    /// To the appliance itself: a router interface or gateway, or a DHCP port of the network.
    Local,
}

/// Everything the data plane needs to know, compiled from the model.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Increases with every published snapshot.
    pub generation: u64,
    /// Devices by [`PortIdx`].
    pub ports: Vec<PortConf>,
    /// Networks by local VLAN tag ([`NetIdx`]); `None` where no network has that tag.
    pub networks: Vec<Option<NetConf>>,
    /// GRE key (segmentation id) → network.
    pub key_to_net: HashMap<u32, NetIdx>,
    /// The tunnel underlay, if the node terminates GRE.
    pub underlay: Option<Underlay>,
    /// Hosts on the underlay whose MAC the model gives (address in host byte order, MAC):
    /// static entries of the underlay's ARP cache, never asked for.
    pub underlay_neighbours: Vec<(u32, Mac)>,
    /// GRE tunnel peers by remote IPv4 address (host byte order).
    pub peers: HashMap<u32, PeerConf>,
    /// Remote addresses of all peers, in a fixed order, for flooding.
    pub peer_list: Vec<u32>,
    /// MAC addresses known from the model (locally bound ports, ports bound to a peer).
    pub static_macs: Vec<(NetIdx, Mac, Dest)>,
    /// MAC table limits.
    pub mac: MacTableConf,
    /// DHCP servers by network, for networks with a DHCP port and a DHCP-enabled subnet.
    pub dhcp: HashMap<NetIdx, dhcp::DhcpServer>,
    /// Routers, by the index [`LocalKind::Router`] names.
    pub routers: Vec<RouterConf>,
    /// Connection tracking and NAT limits.
    pub conntrack: ConntrackConf,
    /// Security groups of locally bound VM ports, by [`PortIdx`] (`None`: not filtered).
    pub acls: Vec<Option<acl::PortAcl>>,
}

impl Snapshot {
    /// The network with local VLAN tag `net`, if any.
    #[inline]
    pub fn network(&self, net: NetIdx) -> Option<&NetConf> {
        self.networks.get(net as usize).and_then(Option::as_ref)
    }

    /// The firewall of device `port`, if it is a VM port with port security.
    #[inline]
    pub fn acl(&self, port: PortIdx) -> Option<&acl::PortAcl> {
        self.acls.get(port as usize).and_then(Option::as_ref)
    }

    /// The device with attachment index `port`, if any.
    #[inline]
    pub fn port(&self, port: PortIdx) -> Option<&PortConf> {
        self.ports.get(port as usize)
    }
}

/// One attached device and the role the model gives it.
#[derive(Clone, Debug)]
pub struct PortConf {
    /// The name operators see: `tap1653ec91-ad`, `eth1`, `eth2`.
    pub name: String,
    /// What frames on it mean.
    pub role: PortRole,
}

/// The role of an attached device.
#[derive(Clone, Debug)]
pub enum PortRole {
    /// Attached but not (or no longer) used by the model: frames are dropped.
    Unused,
    /// Untagged frames of one network: a VM port, or a flat external network's NIC.
    Access {
        /// The network.
        net: NetIdx,
    },
    /// 802.1Q-tagged frames; the tag selects the network.
    Trunk {
        /// VLAN id → network, 4096 entries, 0 where no network is mapped.
        vlans: Box<[NetIdx; 4096]>,
    },
    /// The GRE tunnel underlay (see [`Snapshot::underlay`]).
    Underlay,
}

/// A tenant or provider network as the data plane sees it.
#[derive(Clone, Debug)]
pub struct NetConf {
    /// Neutron id, for views.
    pub id: String,
    /// Neutron name, for views.
    pub name: String,
    /// Local VLAN tag on this node.
    pub local_vlan: NetIdx,
    /// GRE key (segmentation id), when the network is carried over tunnels.
    pub tunnel_key: Option<u32>,
    /// MTU of the network.
    pub mtu: u16,
    /// Local devices of the network with the 802.1Q tag frames carry there (`None` on access
    /// ports), the flood list.
    pub members: Vec<(PortIdx, Option<u16>)>,
    /// The appliance's own ports on the network (router interfaces, gateway, DHCP port).
    pub locals: Vec<LocalIf>,
}

impl NetConf {
    /// The 802.1Q tag frames of this network carry on `port` (`Some(None)` if untagged);
    /// `None` if the port is not a member.
    #[inline]
    pub fn tag_on(&self, port: PortIdx) -> Option<Option<u16>> {
        self.members
            .iter()
            .find(|(p, _)| *p == port)
            .map(|(_, t)| *t)
    }

    /// The local port answering for IPv4 address `ip`, if any.
    #[inline]
    pub fn local_by_ip(&self, ip: u32) -> Option<&LocalIf> {
        self.locals.iter().find(|l| l.ip == ip)
    }

    /// The local port with MAC address `mac`, if any.
    #[inline]
    pub fn local_by_mac(&self, mac: Mac) -> Option<&LocalIf> {
        self.locals.iter().find(|l| l.mac == mac)
    }
}

/// One of the appliance's own ports on a network: what `qr-…`, `qg-…` and the DHCP `tap…`
/// were on the network node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalIf {
    /// Neutron port id, for views.
    pub port_id: String,
    /// Its MAC address.
    pub mac: Mac,
    /// Its IPv4 address (host byte order).
    pub ip: u32,
    /// Prefix length of its subnet.
    pub prefix_len: u8,
    /// What it is.
    pub kind: LocalKind,
}

/// What a local port is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalKind {
    /// A router interface (`qr-…`) or gateway (`qg-…`) of router number `router` in
    /// [`Snapshot::routers`].
    Router(usize),
    /// The network's DHCP port (`tap…` in `qdhcp-…`).
    Dhcp,
}

/// The tunnel underlay: where GRE is terminated.
#[derive(Clone, Debug)]
pub struct Underlay {
    /// The underlay device.
    pub port: PortIdx,
    /// Local tunnel endpoint address (host byte order).
    pub local_ip: u32,
    /// Prefix length of the underlay subnet.
    pub prefix_len: u8,
    /// MAC address the appliance uses on the underlay.
    pub mac: Mac,
    /// Next hop for peers outside the underlay subnet (host byte order).
    pub gateway: Option<u32>,
}

impl Underlay {
    /// The address to resolve by ARP to reach `remote` (host byte order): the remote itself
    /// when on-link, else the gateway.
    pub fn next_hop(&self, remote: u32) -> Option<u32> {
        let mask = if self.prefix_len == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix_len as u32)
        };
        if remote & mask == self.local_ip & mask {
            Some(remote)
        } else {
            self.gateway
        }
    }
}

/// A GRE tunnel peer (a compute node).
#[derive(Clone, Debug)]
pub struct PeerConf {
    /// The port name operators see: `gre-0a00011f`.
    pub name: String,
    /// Remote address (host byte order).
    pub remote_ip: u32,
}

/// Limits of the learned MAC table.
#[derive(Clone, Copy, Debug)]
pub struct MacTableConf {
    /// Entries at most (learned and static together).
    pub capacity: usize,
    /// Seconds after which a learned entry that was not refreshed is removed.
    pub aging_secs: u32,
}

impl Default for MacTableConf {
    fn default() -> Self {
        MacTableConf {
            capacity: 65536,
            aging_secs: 300,
        }
    }
}

/// Limits of connection tracking (NAT sessions).
#[derive(Clone, Copy, Debug)]
pub struct ConntrackConf {
    /// Sessions at most; a new connection beyond it is refused and counted.
    pub capacity: usize,
    /// Sessions at most of one zone (a router, or a VM port).
    pub zone_limit: usize,
}

impl ConntrackConf {
    /// The share of the table one zone may take unless configured: half.
    pub fn default_zone_limit(capacity: usize) -> usize {
        (capacity / 2).max(1)
    }
}

impl Default for ConntrackConf {
    fn default() -> Self {
        let capacity = 262_144;
        ConntrackConf {
            capacity,
            zone_limit: Self::default_zone_limit(capacity),
        }
    }
}
