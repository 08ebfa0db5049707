//! Compiles the model into the data plane's [`Snapshot`]: device roles, networks by local
//! VLAN tag, GRE keys, the underlay (with its static neighbours), tunnel peers and the MACs
//! the model knows.

use crate::addr::{parse_mac, Ipv4Cidr};
use crate::model::{owner, Binding, Port, Topology, Uplink, UplinkRole};
use crate::validate::{lines, ValidationError};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use vrouter::tables::{
    Dest, LocalIf, LocalKind, MacTableConf, NetConf, NetIdx, PeerConf, PortConf, PortIdx, PortRole,
    Snapshot, Underlay,
};

/// Why a snapshot could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// The model does not validate.
    #[error("invalid topology:\n{}", lines(.0))]
    Invalid(Vec<ValidationError>),
    /// The same device name appears twice in the attachment list.
    #[error("device {0} is attached twice")]
    DuplicateDevice(String),
    /// The model needs a device that is not attached.
    #[error("device {0} is needed by the topology but not attached")]
    NotAttached(String),
    /// More devices than a [`PortIdx`] can number.
    #[error("{0} devices attached, at most 65536 are supported")]
    TooManyDevices(usize),
}

/// What compiling needs at hand: the model, device indices and network tags.
struct Ctx<'a> {
    topo: &'a Topology,
    index: HashMap<&'a str, PortIdx>,
    tags: HashMap<&'a str, NetIdx>,
}

/// Compiles `topo` for the devices `attached` (names in attachment order: position =
/// [`PortIdx`]) into snapshot number `generation`. Attached devices the model no longer
/// uses become [`PortRole::Unused`]; a device the model needs must be attached.
pub fn compile(
    topo: &Topology,
    attached: &[String],
    generation: u64,
) -> Result<Snapshot, CompileError> {
    topo.validate().map_err(CompileError::Invalid)?;
    let mut index = HashMap::new();
    for (i, name) in attached.iter().enumerate() {
        let i = PortIdx::try_from(i).map_err(|_| CompileError::TooManyDevices(attached.len()))?;
        if index.insert(name.as_str(), i).is_some() {
            return Err(CompileError::DuplicateDevice(name.clone()));
        }
    }
    if let Some((name, _)) = topo
        .devices()
        .into_iter()
        .find(|(n, _)| !index.contains_key(&**n))
    {
        return Err(CompileError::NotAttached(name));
    }
    let tags = topo
        .networks
        .iter()
        .zip(topo.local_vlans())
        .filter_map(|(n, tag)| Some((&*n.id, tag?)))
        .collect();
    let cx = Ctx { topo, index, tags };
    let ports: Vec<PortConf> = attached
        .iter()
        .map(|name| PortConf {
            name: name.clone(),
            role: cx.role_of(name),
        })
        .collect();
    let (peers, peer_list) = cx.peers();
    Ok(Snapshot {
        generation,
        networks: cx.networks(&ports),
        ports,
        key_to_net: cx.keys(),
        underlay: cx.underlay(),
        underlay_neighbours: cx.underlay_neighbours(),
        peers,
        peer_list,
        static_macs: cx.static_macs(),
        dhcp: crate::compile_dhcp::servers(topo, &cx.tags),
        routers: crate::compile_router::routers(topo, &cx.tags),
        acls: crate::compile_acl::acls(topo, attached),
        conntrack: topo.conntrack.map_or_else(Default::default, |c| {
            vrouter::tables::ConntrackConf {
                capacity: c.capacity,
                zone_limit: c.zone_limit(),
            }
        }),
        mac: topo
            .mac_table
            .map_or_else(MacTableConf::default, |m| MacTableConf {
                capacity: m.capacity,
                aging_secs: m.aging_secs,
            }),
    })
}

impl Ctx<'_> {
    /// The role of the attached device called `name`.
    fn role_of(&self, name: &str) -> PortRole {
        if let Some(u) = self.topo.uplinks.iter().find(|u| u.name == name) {
            return self.uplink_role(u);
        }
        let port = self
            .topo
            .ports
            .iter()
            .find(|p| p.local_devargs().is_some() && p.device_name() == name);
        match port.and_then(|p| self.tags.get(&*p.network_id)) {
            Some(&net) => PortRole::Access { net },
            None => PortRole::Unused,
        }
    }

    /// The role of an uplink's device.
    fn uplink_role(&self, u: &Uplink) -> PortRole {
        match &u.role {
            UplinkRole::Underlay { .. } => PortRole::Underlay,
            UplinkRole::External { network_id } => match self.tags.get(&**network_id) {
                Some(&net) => PortRole::Access { net },
                None => PortRole::Unused,
            },
            UplinkRole::Trunk { vlans } => {
                let mut table = Box::new([0; 4096]);
                for (vid, net) in vlans {
                    let vid = vid.parse::<usize>().ok().filter(|v| (1..4095).contains(v));
                    if let (Some(vid), Some(&net)) = (vid, self.tags.get(&**net)) {
                        table[vid] = net;
                    }
                }
                PortRole::Trunk { vlans: table }
            }
        }
    }

    /// Networks by local VLAN tag, with their member devices in attachment order.
    fn networks(&self, ports: &[PortConf]) -> Vec<Option<NetConf>> {
        let len = self.tags.values().max().map_or(0, |&t| usize::from(t) + 1);
        let mut out = vec![None; len];
        for n in &self.topo.networks {
            let Some(&tag) = self.tags.get(&*n.id) else {
                continue;
            };
            let members = ports
                .iter()
                .enumerate()
                .filter_map(|(i, p)| Some((PortIdx::try_from(i).ok()?, p)))
                .filter_map(|(i, p)| match &p.role {
                    PortRole::Access { net } if *net == tag => Some((i, None)),
                    PortRole::Trunk { vlans } => (0..)
                        .zip(vlans.iter())
                        .find(|(vid, net)| *vid != 0 && **net == tag)
                        .map(|(vid, _)| (i, Some(vid))),
                    _ => None,
                })
                .collect();
            out[usize::from(tag)] = Some(NetConf {
                id: n.id.clone(),
                name: n.name.clone(),
                local_vlan: tag,
                tunnel_key: n.segmentation_id,
                mtu: n.effective_mtu(),
                members,
                locals: self.locals(&n.id),
            });
        }
        out
    }

    /// The appliance's own ports on network `net_id`: router interfaces and gateways, DHCP
    /// ports, each with its first IPv4 address.
    fn locals(&self, net_id: &str) -> Vec<LocalIf> {
        let owned = self.topo.ports.iter().filter(|p| p.network_id == net_id);
        let mut locals: Vec<LocalIf> = owned.filter_map(|p| self.local_if(p)).collect();
        locals.extend(crate::compile_router::floating_locals(self.topo, net_id));
        locals
    }

    /// The local port `p` is, if the appliance serves it.
    fn local_if(&self, p: &Port) -> Option<LocalIf> {
        let kind = match p.device_owner.as_str() {
            owner::ROUTER_INTERFACE | owner::ROUTER_GATEWAY => {
                LocalKind::Router(self.topo.routers.iter().position(|r| r.id == p.device_id)?)
            }
            owner::DHCP => LocalKind::Dhcp,
            _ => return None,
        };
        let fixed = p.fixed_ips.first()?;
        let subnet = self.topo.subnets.iter().find(|s| s.id == fixed.subnet_id)?;
        Some(LocalIf {
            port_id: p.id.clone(),
            mac: parse_mac(&p.mac_address)?,
            ip: u32::from(fixed.ip_address.parse::<Ipv4Addr>().ok()?),
            prefix_len: Ipv4Cidr::parse(&subnet.cidr)?.prefix_len,
            kind,
        })
    }

    /// GRE key → local VLAN tag.
    fn keys(&self) -> hashbrown::HashMap<u32, NetIdx> {
        let nets = self.topo.networks.iter();
        nets.filter_map(|n| Some((n.segmentation_id?, *self.tags.get(&*n.id)?)))
            .collect()
    }

    /// The underlay, from the uplink with role `underlay`.
    fn underlay(&self) -> Option<Underlay> {
        self.topo.uplinks.iter().find_map(|u| {
            let UplinkRole::Underlay {
                local_ip,
                mac,
                gateway,
            } = &u.role
            else {
                return None;
            };
            let cidr = Ipv4Cidr::parse(local_ip)?;
            Some(Underlay {
                port: *self.index.get(&*u.name)?,
                local_ip: u32::from(cidr.addr),
                prefix_len: cidr.prefix_len,
                mac: parse_mac(mac)?,
                gateway: gateway
                    .as_ref()
                    .and_then(|g| g.parse::<Ipv4Addr>().ok())
                    .map(u32::from),
            })
        })
    }

    /// The static neighbours on the underlay uplink: (address, MAC), in file order.
    fn underlay_neighbours(&self) -> Vec<(u32, vrouter::wire::Mac)> {
        let underlay = |name: &str| {
            self.topo
                .uplinks
                .iter()
                .any(|u| u.name == name && matches!(u.role, UplinkRole::Underlay { .. }))
        };
        self.topo
            .neighbours
            .iter()
            .filter(|n| n.uplink.as_deref().is_some_and(underlay))
            .filter_map(|n| Some((crate::addr::parse_ipv4_u32(&n.ip)?, parse_mac(&n.mac)?)))
            .collect()
    }

    /// Tunnel peers by address, and their addresses in ascending order.
    fn peers(&self) -> (hashbrown::HashMap<u32, PeerConf>, Vec<u32>) {
        let mut list: Vec<Ipv4Addr> = self
            .topo
            .tunnel_peers
            .iter()
            .filter_map(|p| p.remote_ip.parse().ok())
            .collect();
        list.sort_unstable();
        list.dedup();
        let peers = list
            .iter()
            .map(|&ip| {
                let name = crate::naming::gre_port_name(ip);
                let remote_ip = u32::from(ip);
                (remote_ip, PeerConf { name, remote_ip })
            })
            .collect();
        (peers, list.into_iter().map(u32::from).collect())
    }

    /// The MACs of VM ports bound locally or to a peer and of the appliance's own ports,
    /// in file order.
    fn static_macs(&self) -> Vec<(NetIdx, vrouter::wire::Mac, Dest)> {
        let ports = self.topo.ports.iter();
        ports.filter_map(|p| self.static_mac(p)).collect()
    }

    /// The static MAC entry of one port, if it is bound or served by the appliance.
    fn static_mac(&self, p: &Port) -> Option<(NetIdx, vrouter::wire::Mac, Dest)> {
        let served = self.local_if(p).is_some();
        let dest = match p.binding.as_ref() {
            None if served => Dest::Local,
            None => return None,
            Some(Binding::Local { .. }) => Dest::Port(*self.index.get(&*p.device_name())?),
            Some(Binding::Peer(ip)) => Dest::Peer(u32::from(ip.parse::<Ipv4Addr>().ok()?)),
        };
        Some((
            *self.tags.get(&*p.network_id)?,
            parse_mac(&p.mac_address)?,
            dest,
        ))
    }
}
