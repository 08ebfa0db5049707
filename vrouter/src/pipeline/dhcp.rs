//! The DHCP stage: the server of each network, as dnsmasq in `qdhcp-<network id>` was.
//! Answers DISCOVER, REQUEST and INFORM and takes RELEASE and DECLINE (RFC 2131 §4.3) from
//! the static bindings of the network's ports. The reply is built in the request's buffer,
//! from the DHCP port's MAC and address, and switched from the local port like any frame
//! the appliance sends: back through the tunnel peer or local port the client is behind.

use super::dhcp_frame::LIMITED_BROADCAST;
use super::ignored::ignore_broadcast;
use super::meta::Meta;
use super::node::{Ctx, Edge, Node, Step};
use super::node_state::DhcpState;
use crate::frame::Frame;
use crate::state::Millis;
use crate::stats::DropReason;
use crate::tables::dhcp::{DhcpBinding, DhcpSubnet};
use crate::tables::{Dest, NetConf};
use crate::wire::dhcp::{self, LeaseTimes, MessageType, ParamSet, Reply};
use crate::wire::{ethernet, ipv4, udp, Error, Mac};

/// TTL of replies.
const TTL: u8 = 64;
/// Ethernet, option-less IPv4 and UDP headers in front of a reply.
const HEADERS: usize = ethernet::HEADER_LEN + ipv4::MIN_HEADER_LEN + udp::HEADER_LEN;
/// IPv4 and UDP headers, which a client's maximum message size (option 57) includes.
const IP_UDP: usize = ipv4::MIN_HEADER_LEN + udp::HEADER_LEN;

/// What the server keeps of a client message once its buffer is reused for the reply.
#[derive(Clone, Copy, Debug)]
struct Request {
    /// Ethernet source: the client, or the relay agent.
    src_mac: Mac,
    message_type: MessageType,
    xid: u32,
    flags: u16,
    ciaddr: u32,
    giaddr: u32,
    chaddr: Mac,
    requested_ip: Option<u32>,
    server_id: Option<u32>,
    /// The parameter request list; `None` when the client sent none.
    params: Option<ParamSet>,
    /// Longest DHCP message the client accepts.
    max_len: usize,
}

/// The drop reason for a DHCP message that failed to parse.
fn parse_drop(e: Error) -> DropReason {
    match e {
        Error::Truncated | Error::Malformed => DropReason::DhcpMalformed,
        Error::Unsupported => DropReason::DhcpUnsupported,
    }
}

/// Checks and parses a client message: IPv4 and UDP checksums, UDP to the server port,
/// BOOTREQUEST with a client message type (RFC 2131 §4.1: servers only take requests).
fn parse(frame: &[u8]) -> Result<Request, DropReason> {
    let malformed = |_| DropReason::DhcpMalformed;
    let ip = frame
        .get(ethernet::HEADER_LEN..)
        .ok_or(DropReason::DhcpMalformed)?;
    let ip = ipv4::Packet::new_checked(ip).map_err(malformed)?;
    if !ip.verify_checksum() {
        return Err(DropReason::DhcpMalformed);
    }
    let u = udp::Packet::new_checked(ip.payload()).map_err(malformed)?;
    if !u.verify_checksum(ip.src(), ip.dst()) {
        return Err(DropReason::DhcpMalformed);
    }
    if u.dst_port() != dhcp::SERVER_PORT {
        return Err(DropReason::DhcpNotRequest);
    }
    let m = dhcp::Packet::new_checked(u.payload()).map_err(malformed)?;
    let r = dhcp::Repr::parse(&m).map_err(parse_drop)?;
    let from_client = matches!(
        r.message_type,
        MessageType::Discover
            | MessageType::Request
            | MessageType::Decline
            | MessageType::Release
            | MessageType::Inform
    );
    if r.op != dhcp::op::BOOTREQUEST || !from_client {
        return Err(DropReason::DhcpNotRequest);
    }
    let max_len = r
        .max_message_size
        .map_or(0, |m| usize::from(m).saturating_sub(IP_UDP));
    Ok(Request {
        // The length was checked with the IPv4 header.
        src_mac: Mac::from_bytes(&frame[6..12]),
        message_type: r.message_type,
        xid: r.xid,
        flags: r.flags,
        ciaddr: r.ciaddr,
        giaddr: r.giaddr,
        chaddr: r.chaddr,
        requested_ip: r.requested_ip,
        server_id: r.server_id,
        params: (!r.parameter_request_list.is_empty())
            .then(|| ParamSet::from_list(r.parameter_request_list)),
        max_len: max_len.max(dhcp::DEFAULT_MAX_MESSAGE_LEN),
    })
}

/// The server's answer to a message: type, addresses, and whether it grants a lease.
struct Answer {
    message_type: MessageType,
    yiaddr: u32,
    ciaddr: u32,
    lease: bool,
}

/// The `dhcp` node: takes a client message for the network's DHCP server and sends the
/// reply, if any; a broadcast for no server here is ignored.
pub(super) fn node<F: Frame, O>(
    st: &mut DhcpState<'_, F>,
    cx: &mut Ctx<'_, O>,
    meta: &mut Meta,
    frame: F,
) -> Step<F> {
    let multicast = Mac::from_bytes(&frame.data()[0..6]).is_multicast();
    let step = input(st, cx, meta, frame);
    ignore_broadcast(st.fx.stats, multicast, step)
}

/// A client message for the network's DHCP server: the reply goes back into the network.
fn input<F: Frame, O>(
    st: &mut DhcpState<'_, F>,
    cx: &mut Ctx<'_, O>,
    meta: &mut Meta,
    mut frame: F,
) -> Step<F> {
    let (snap, now) = (cx.snap, cx.now);
    let net = snap.network(meta.net).ok_or(DropReason::PortUnused)?;
    let server = snap.dhcp.get(&net.local_vlan).ok_or(DropReason::NotForUs)?;
    let req = parse(frame.data())?;
    // Bindings are static, as Neutron's: a MAC no port has gets nothing.
    let (binding, subnet) = server.lookup(req.chaddr).ok_or(DropReason::DhcpNoBinding)?;
    if req.server_id.is_some_and(|id| id != subnet.server_ip) {
        // RFC 2131 §4.3.2: a REQUEST naming another server declines our offer; RELEASE
        // and DECLINE for another server are not ours either.
        return Err(DropReason::DhcpOtherServer);
    }
    let Some(answer) = answer(st, net, &req, binding, subnet, now)? else {
        return Ok(Edge::Done);
    };
    let nak = answer.message_type == MessageType::Nak;
    let routes = if nak || !requested(&req, dhcp::opt::CLASSLESS_ROUTES, false) {
        &[][..]
    } else {
        &subnet.routes[..]
    };
    let wanted = |code| !nak && requested(&req, code, true);
    let reply = Reply {
        message_type: answer.message_type,
        xid: req.xid,
        // RFC 2131 §4.3.2: a NAK through a relay asks it to broadcast.
        flags: if nak && req.giaddr != 0 {
            req.flags | dhcp::FLAG_BROADCAST
        } else {
            req.flags
        },
        ciaddr: answer.ciaddr,
        yiaddr: answer.yiaddr,
        siaddr: 0,
        giaddr: req.giaddr,
        chaddr: req.chaddr,
        server_id: subnet.server_ip,
        lease: answer
            .lease
            .then(|| LeaseTimes::with_defaults(subnet.lease_secs)),
        subnet_mask: wanted(dhcp::opt::SUBNET_MASK).then(|| subnet.mask()),
        // RFC 3442: no Router option next to Classless Static Routes (the default route
        // is among them).
        router: subnet
            .router
            .filter(|_| routes.is_empty() && wanted(dhcp::opt::ROUTER)),
        dns_servers: if wanted(dhcp::opt::DNS_SERVERS) {
            &subnet.dns_servers
        } else {
            &[]
        },
        domain_name: if wanted(dhcp::opt::DOMAIN_NAME) {
            subnet.domain.as_bytes()
        } else {
            b""
        },
        host_name: if wanted(dhcp::opt::HOST_NAME) {
            binding.host_name.as_bytes()
        } else {
            b""
        },
        // Sent whether requested or not, as Neutron's `--dhcp-option-force=option:mtu`.
        mtu: (!nak).then_some(subnet.mtu),
        classless_routes: routes,
    };
    let (dst_mac, dst_ip, dst_port) = destination(&req, &answer);
    let len = reply.buffer_len();
    if len > req.max_len {
        return Err(DropReason::DhcpReplyTooBig);
    }
    let total = HEADERS + len;
    if total > frame.len() {
        frame
            .append(total - frame.len())
            .ok_or(DropReason::NoBuffer)?;
    } else {
        frame.truncate(total);
    }
    let d = frame.data_mut();
    reply
        .emit(&mut d[HEADERS..])
        .map_err(|_| DropReason::DhcpReplyTooBig)?;
    let ip_at = ethernet::HEADER_LEN;
    let udp_at = ip_at + ipv4::MIN_HEADER_LEN;
    udp::Repr {
        src_port: dhcp::SERVER_PORT,
        dst_port,
        payload_len: len as u16,
    }
    .emit(&mut d[udp_at..], subnet.server_ip, dst_ip);
    ipv4::Repr {
        tos: 0,
        payload_len: (udp::HEADER_LEN + len) as u16,
        // RFC 6864 §4.1: any identification for an atomic datagram (DF set).
        ident: 0,
        frag_word: ipv4::FLAG_DF,
        ttl: TTL,
        protocol: ipv4::proto::UDP,
        src: subnet.server_ip,
        dst: dst_ip,
    }
    .emit(&mut d[ip_at..]);
    ethernet::Repr {
        dst: dst_mac,
        src: server.mac,
        ethertype: ethernet::ethertype::IPV4,
    }
    .emit(d);
    let s = &mut st.fx.stats.dhcp;
    match (answer.message_type, req.message_type) {
        (MessageType::Offer, _) => s.offers += 1,
        (MessageType::Nak, _) => s.naks += 1,
        (_, MessageType::Inform) => s.informs += 1,
        _ => s.acks += 1,
    }
    meta.from = Dest::Local;
    Ok(Edge::To(Node::L2Switch, frame))
}

/// True if the client asked for option `code`; `if_no_list` when it sent no list.
fn requested(req: &Request, code: u8, if_no_list: bool) -> bool {
    req.params.map_or(if_no_list, |p| p.contains(code))
}

/// The server's decision (RFC 2131 §4.3); `None` for messages that get no reply, after
/// recording their effect on the lease table.
fn answer<F>(
    st: &mut DhcpState<'_, F>,
    net: &NetConf,
    req: &Request,
    binding: &DhcpBinding,
    subnet: &DhcpSubnet,
    now: Millis,
) -> Result<Option<Answer>, DropReason> {
    let ack = |yiaddr, ciaddr, lease| {
        Ok(Some(Answer {
            message_type: MessageType::Ack,
            yiaddr,
            ciaddr,
            lease,
        }))
    };
    match req.message_type {
        // §4.3.1: offer the client's (static) address.
        MessageType::Discover => Ok(Some(Answer {
            message_type: MessageType::Offer,
            yiaddr: binding.ip,
            ciaddr: 0,
            lease: true,
        })),
        // §4.3.2: SELECTING and INIT-REBOOT name the address in option 50, RENEWING and
        // REBINDING in ciaddr; an address that is not the client's binding gets a NAK.
        MessageType::Request => {
            let claimed = req.requested_ip.or((req.ciaddr != 0).then_some(req.ciaddr));
            match claimed {
                None => Err(DropReason::DhcpMalformed),
                Some(ip) if ip == binding.ip => {
                    st.leases
                        .grant(net.local_vlan, req.chaddr, ip, now, subnet.lease_secs);
                    ack(binding.ip, req.ciaddr, true)
                }
                Some(_) => Ok(Some(Answer {
                    message_type: MessageType::Nak,
                    yiaddr: 0,
                    ciaddr: 0,
                    lease: false,
                })),
            }
        }
        // §4.3.5: local parameters only, no lease, no yiaddr.
        MessageType::Inform => ack(0, req.ciaddr, false),
        // §4.3.3, §4.3.4: no reply; the lease is forgotten.
        MessageType::Decline | MessageType::Release => {
            st.leases.remove(net.local_vlan, req.chaddr);
            if req.message_type == MessageType::Decline {
                st.fx.stats.dhcp.declines += 1;
            } else {
                st.fx.stats.dhcp.releases += 1;
            }
            Ok(None)
        }
        MessageType::Offer | MessageType::Ack | MessageType::Nak => Err(DropReason::DhcpNotRequest),
    }
}

/// Where a reply goes (RFC 2131 §4.1): through the relay (`giaddr`) to its server port;
/// a NAK broadcast; to `ciaddr` when the client has an address; broadcast when the client
/// asks (BROADCAST flag); else unicast to `yiaddr` at `chaddr`.
fn destination(req: &Request, answer: &Answer) -> (Mac, u32, u16) {
    let bcast = (Mac::BROADCAST, LIMITED_BROADCAST, dhcp::CLIENT_PORT);
    if req.giaddr != 0 {
        (req.src_mac, req.giaddr, dhcp::SERVER_PORT)
    } else if answer.message_type == MessageType::Nak {
        bcast
    } else if req.ciaddr != 0 {
        (req.chaddr, req.ciaddr, dhcp::CLIENT_PORT)
    } else if req.flags & dhcp::FLAG_BROADCAST != 0 || answer.yiaddr == 0 {
        bcast
    } else {
        (req.chaddr, answer.yiaddr, dhcp::CLIENT_PORT)
    }
}

#[cfg(test)]
#[path = "dhcp_tests.rs"]
mod tests;
