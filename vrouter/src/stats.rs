//! Counters: per device (as ifconfig shows them), per drop reason, per event.
//!
//! A worker owns its `Stats` and increments plain integers; readers get copies between bursts.

use crate::tables::PortIdx;

macro_rules! reasons {
    ($(#[$m:meta])* $name:ident { $($(#[doc = $d:literal])* $v:ident => $s:literal,)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum $name { $($(#[doc = $d])* $v,)* }
        impl $name {
            /// Every variant, in counter order.
            pub const ALL: &'static [$name] = &[$($name::$v,)*];
            /// Number of variants.
            pub const COUNT: usize = $name::ALL.len();
            /// The snake_case name shown in views.
            pub fn name(self) -> &'static str {
                match self { $($name::$v => $s,)* }
            }
        }
    };
}

reasons! {
    /// Why the pipeline dropped a frame. Every reason has a counter.
    DropReason {
        /// Shorter than its headers say, or a header field out of range.
        Malformed => "malformed",
        /// Source MAC is a group address or all zeroes.
        InvalidSrcMac => "invalid_src_mac",
        /// Arrived on a device the model does not use.
        PortUnused => "port_unused",
        /// 802.1Q tag on an access port, or a VLAN no network is mapped to on a trunk.
        VlanUnknown => "vlan_unknown",
        /// Underlay frame that is neither GRE nor ARP for the local tunnel endpoint.
        NotForUs => "not_for_us",
        /// A fragment of a GRE packet (the underlay must carry whole ones).
        Fragmented => "fragmented",
        /// GRE header this node does not terminate (version, routing, payload type).
        GreUnsupported => "gre_unsupported",
        /// GRE checksum present and wrong (RFC 2784 §2.5).
        GreBadChecksum => "gre_bad_checksum",
        /// GRE without key, or a key no network has (br-tun table 2 drop).
        UnknownTunnelKey => "unknown_tunnel_key",
        /// GRE from an address that is no configured tunnel peer.
        UnknownPeer => "unknown_peer",
        /// Destination is the device the frame came in on.
        SameSegment => "same_segment",
        /// Unicast learned behind a tunnel peer but arriving from a tunnel (no peer-to-peer).
        TunnelToTunnel => "tunnel_to_tunnel",
        /// Flooded, but the network has no other member and no tunnel peer.
        NoDestination => "no_destination",
        /// Encapsulated frame would exceed what the underlay frame can carry.
        TooBig => "too_big",
        /// No buffer for a copy (flooding) or no room for headers.
        NoBuffer => "no_buffer",
        /// Next hop not resolved and its queue of held frames is full.
        NeighbourQueueFull => "neighbour_queue_full",
        /// Next hop did not answer ARP in time; held frames are dropped.
        NeighbourTimeout => "neighbour_timeout",
        /// Underlay or tunnel not configured for a frame that needs it.
        NoUnderlay => "no_underlay",
        /// Transmit queue of the device was full.
        TxFull => "tx_full",
        /// DHCP request whose IPv4, UDP or DHCP header or options do not parse: truncated,
        /// no magic cookie, an option overrunning its field or repeated, a bad checksum.
        DhcpMalformed => "dhcp_malformed",
        /// BOOTP without a DHCP message type, an unknown type, or non-Ethernet hardware.
        DhcpUnsupported => "dhcp_unsupported",
        /// A server message (BOOTREPLY, udp 67 -> 68, OFFER/ACK/NAK) sent by a client.
        DhcpNotRequest => "dhcp_not_request",
        /// DHCP message from a MAC address no port of the network has.
        DhcpNoBinding => "dhcp_no_binding",
        /// DHCP message for another server (RFC 2131 §4.3.2: the client chose it).
        DhcpOtherServer => "dhcp_other_server",
        /// DHCP reply larger than the client accepts or than the buffer holds.
        DhcpReplyTooBig => "dhcp_reply_too_big",
        /// IPv4 header checksum wrong (RFC 1812 §5.2.2).
        IpBadChecksum => "ip_bad_checksum",
        /// No route to the destination (ICMP net unreachable sent).
        NoRoute => "no_route",
        /// TTL expired in transit (ICMP time exceeded sent).
        TtlExceeded => "ttl_exceeded",
        /// Larger than the egress MTU with DF set (ICMP fragmentation needed sent).
        FragNeeded => "frag_needed",
        /// Addressed to the router itself and not an echo request.
        ToRouter => "to_router",
        /// A fragment after the first at a security group port whose first fragment did
        /// not pass the port's filter (Linux never lets an orphan fragment through).
        FragmentOrphan => "fragment_orphan",
        /// A fragment that waited for its datagram's first fragment, which did not come in
        /// time (30 s, Linux ipfrag_time).
        FragmentTimeout => "fragment_timeout",
        /// No room to track a fragmented datagram, or to hold a fragment for its first.
        FragmentTableFull => "fragment_table_full",
        /// Every SNAT port tried for the flow is in use.
        NatPortsExhausted => "nat_ports_exhausted",
        /// The translated flow collides with an existing session.
        NatCollision => "nat_collision",
        /// The connection table is full: a new connection is refused.
        ConntrackFull => "conntrack_full",
        /// The connection's zone (its router, or its VM port) holds as many sessions as one
        /// zone may (`[conntrack] zone_limit`): a new connection is refused.
        ConntrackZoneFull => "conntrack_zone_full",
        /// A VM sent from a MAC or IP that is not its own nor an allowed address pair.
        Spoofed => "spoofed",
        /// A VM sent a DHCP server reply (udp 67 → 68).
        RogueDhcp => "rogue_dhcp",
        /// Conntrack state INVALID at a VM port (bad TCP flags, out of window, no SYN).
        SgInvalid => "sg_invalid",
        /// A new connection no security group rule allows.
        SgDenied => "sg_denied",
        /// The queue to the worker that owns the frame's flow was full.
        HandoffFull => "handoff_full",
        /// Not a frame: learned state (a MAC, a neighbour, where a first fragment went) for
        /// another worker found the queue to it full; that worker floods, learns or ARPs
        /// itself instead (`src/worker/sync_link.rs`).
        SyncFull => "sync_full",
        /// Source address no router accepts (RFC 1812 §4.2.2.11, §5.3.7): 0.0.0.0/8,
        /// 127.0.0.0/8, multicast, 240.0.0.0/4 (limited broadcast included), or the
        /// directed broadcast of a subnet the router is on.
        MartianSource => "martian_source",
        /// Source is one of the router's own addresses, arriving from outside (Linux:
        /// fib_validate_source refuses a local address as source).
        OwnAddressSource => "own_address_source",
        /// Destination no router forwards (RFC 1812 §5.3.7): 0.0.0.0/8, 127.0.0.0/8,
        /// 240.0.0.0/4 other than the limited broadcast.
        MartianDestination => "martian_destination",
        /// Limited or directed broadcast, or multicast, sent to the router: not forwarded
        /// (RFC 1812 §5.3.5, RFC 2644; Linux bc_forwarding=0, no multicast routing).
        BroadcastNotForwarded => "broadcast_not_forwarded",
        /// IPv4 loose or strict source route option (RFC 7126 §4.3, §4.4: drop by
        /// default; Linux accept_source_route=0).
        SourceRoute => "source_route",
        /// IPv4 options that do not parse (a length below 2 or past the header, a bad
        /// pointer); ICMP parameter problem sent (RFC 792).
        IpOptionsMalformed => "ip_options_malformed",
        /// Reverse path check failed: the route back to the source leaves by another port,
        /// or there is none (RFC 3704 §2.2 strict mode; Linux rp_filter=1).
        RpFilter => "rp_filter",
        /// IPv6 from or to a VM port with port security: the data plane filters IPv4 only.
        Ipv6Unsupported => "ipv6_unsupported",
        /// An ICMPv6 router advertisement from a VM port with port security (RFC 6105).
        RogueRa => "rogue_ra",
        /// A DHCPv6 server or relay message (udp source port 547) from a VM port with port
        /// security.
        RogueDhcpv6 => "rogue_dhcpv6",
        /// Source MAC that the model pins elsewhere (a locally bound port, a port bound to
        /// another peer, the appliance's own ports) arriving from another place.
        MacStaticConflict => "mac_static_conflict",
        /// ARP whose sender claims an address of the appliance, or one the model gives to
        /// another MAC (a static neighbour).
        ArpSpoofed => "arp_spoofed",
        /// Frames held for an unresolved next hop whose entry was evicted for a newer one.
        NeighbourEvicted => "neighbour_evicted",
        /// A flooded frame's copy to a tunnel peer whose underlay address did not answer
        /// ARP in time (the frame's other copies went out; counted apart from
        /// `neighbour_timeout`, which loses a frame).
        FloodPeerUnresolved => "flood_peer_unresolved",
    }
}

/// Counters of several workers summed into one.
pub trait Merge {
    /// Adds `other`'s counts to these.
    fn merge(&mut self, other: &Self);
}

/// A struct of counters listed by field name, for views.
pub trait Named {
    /// Every counter as (field name, value), in declaration order of the list.
    fn named(&self) -> Vec<(&'static str, u64)>;
}

/// Implements [`Merge`] (adding each named field) and [`Named`] (listing them) for a
/// struct of counters.
#[macro_export]
macro_rules! merge_fields {
    ($t:ty { $($f:ident),* $(,)? }) => {
        impl $crate::stats::Merge for $t {
            fn merge(&mut self, other: &Self) {
                $(self.$f += other.$f;)*
            }
        }
        impl $crate::stats::Named for $t {
            fn named(&self) -> Vec<(&'static str, u64)> {
                vec![$((stringify!($f), self.$f),)*]
            }
        }
    };
}

merge_fields!(PortCounters {
    rx_packets,
    rx_bytes,
    rx_dropped,
    tx_packets,
    tx_bytes,
    tx_dropped
});
merge_fields!(RouterStats {
    received,
    forwarded,
    forwarded_cached,
    echo_replies,
    icmp_errors,
    icmp_rate_limited,
    icmp_errors_received,
    icmp_errors_translated,
    fragments,
    fragments_tracked,
    fragments_followed,
    fragments_held,
    fragments_released,
    nat_ports_exhausted,
    nat_flushed,
    garps,
});
merge_fields!(DhcpStats {
    offers,
    acks,
    naks,
    informs,
    releases,
    declines
});
merge_fields!(NodeCounters {
    calls,
    packets,
    cycles
});
merge_fields!(AclStats {
    new,
    established,
    related,
    invalid,
    denied,
    flushed,
    fragments_passed
});

impl Merge for Stats {
    fn merge(&mut self, o: &Self) {
        for (i, c) in o.ports.iter().enumerate() {
            self.port(i as PortIdx).merge(c);
        }
        for (a, b) in self.drops.iter_mut().zip(o.drops) {
            *a += b;
        }
        self.gre_decap += o.gre_decap;
        self.gre_encap += o.gre_encap;
        self.flooded += o.flooded;
        self.arp_replies += o.arp_replies;
        self.arp_requests += o.arp_requests;
        self.arp_replies_received += o.arp_replies_received;
        self.local_ignored += o.local_ignored;
        self.dhcp.merge(&o.dhcp);
        self.router.merge(&o.router);
        self.acl.merge(&o.acl);
        self.handed_off += o.handed_off;
        self.sync_sent += o.sync_sent;
        self.sync_applied += o.sync_applied;
        for (a, b) in self.nodes.iter_mut().zip(&o.nodes) {
            a.merge(b);
        }
    }
}

/// Calls, frames and cycles of one node of the graph.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeCounters {
    /// Vectors processed.
    pub calls: u64,
    /// Frames processed.
    pub packets: u64,
    /// Cycles spent, as the I/O layer counts them ([`crate::pipeline::Io::cycles`]).
    pub cycles: u64,
}

/// Counters of one device, as ifconfig shows them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortCounters {
    /// Frames received.
    pub rx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Frames received and dropped by the pipeline.
    pub rx_dropped: u64,
    /// Frames sent.
    pub tx_packets: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Frames the device refused to send.
    pub tx_dropped: u64,
}

/// Counters of the router stage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RouterStats {
    /// IPv4 packets that reached a router.
    pub received: u64,
    /// Packets routed on.
    pub forwarded: u64,
    /// Of those, packets of established flows sent by their session's cached egress.
    pub forwarded_cached: u64,
    /// Echo replies sent for router addresses.
    pub echo_replies: u64,
    /// ICMP errors sent.
    pub icmp_errors: u64,
    /// ICMP errors not sent because of the rate limit.
    pub icmp_rate_limited: u64,
    /// ICMP errors received for the router itself.
    pub icmp_errors_received: u64,
    /// ICMP errors about translated flows, translated back.
    pub icmp_errors_translated: u64,
    /// Fragments made from larger packets.
    pub fragments: u64,
    /// Fragmented datagrams whose first fragment's translation (or answer) was recorded.
    pub fragments_tracked: u64,
    /// Later fragments translated (or answered) as their first fragment was.
    pub fragments_followed: u64,
    /// Later fragments that arrived before their first and waited for it.
    pub fragments_held: u64,
    /// Waiting fragments routed once their first fragment came.
    pub fragments_released: u64,
    /// New SNAT connections refused because no port was free.
    pub nat_ports_exhausted: u64,
    /// Sessions removed because their floating IP or SNAT address changed or went.
    pub nat_flushed: u64,
    /// Gratuitous ARPs sent.
    pub garps: u64,
}

/// Counters of the DHCP stage: messages answered and accepted, by type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DhcpStats {
    /// OFFERs sent (to DISCOVERs).
    pub offers: u64,
    /// ACKs sent to REQUESTs.
    pub acks: u64,
    /// NAKs sent.
    pub naks: u64,
    /// ACKs sent to INFORMs.
    pub informs: u64,
    /// RELEASEs accepted.
    pub releases: u64,
    /// DECLINEs accepted.
    pub declines: u64,
}

/// Counters of the security group stage, by connection state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AclStats {
    /// New connections allowed by a rule.
    pub new: u64,
    /// Packets of known connections.
    pub established: u64,
    /// ICMP errors about known connections.
    pub related: u64,
    /// Packets in state INVALID.
    pub invalid: u64,
    /// New connections no rule allows.
    pub denied: u64,
    /// Connections ended because the rule that allowed them went away.
    pub flushed: u64,
    /// Later fragments passed because their first fragment passed.
    pub fragments_passed: u64,
}

/// Everything a worker counts.
#[derive(Clone, Debug)]
pub struct Stats {
    /// Per device, by [`PortIdx`].
    pub ports: Vec<PortCounters>,
    /// Per drop reason, by `DropReason as usize`.
    pub drops: [u64; DropReason::COUNT],
    /// GRE frames decapsulated.
    pub gre_decap: u64,
    /// GRE frames encapsulated.
    pub gre_encap: u64,
    /// Frames flooded (counted once per flooded frame, not per copy).
    pub flooded: u64,
    /// ARP replies sent for the local tunnel endpoint.
    pub arp_replies: u64,
    /// ARP requests sent to resolve a next hop.
    pub arp_requests: u64,
    /// ARP replies received for the appliance's own addresses (taken by the neighbour caches).
    pub arp_replies_received: u64,
    /// Broadcast copies given to the appliance's own ports that none of them wanted.
    pub local_ignored: u64,
    /// The DHCP stage.
    pub dhcp: DhcpStats,
    /// The router stage.
    pub router: RouterStats,
    /// The security group stage.
    pub acl: AclStats,
    /// Frames passed to the worker that owns their flow.
    pub handed_off: u64,
    /// Learned MACs and neighbours told to the other workers.
    pub sync_sent: u64,
    /// Learned MACs and neighbours applied from the other workers.
    pub sync_applied: u64,
    /// Per node of the graph, by `Node as usize` ([`crate::pipeline::Node`]).
    pub nodes: [NodeCounters; crate::pipeline::Node::COUNT],
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            ports: Vec::new(),
            drops: [0; DropReason::COUNT],
            gre_decap: 0,
            gre_encap: 0,
            flooded: 0,
            arp_replies: 0,
            arp_requests: 0,
            arp_replies_received: 0,
            local_ignored: 0,
            dhcp: DhcpStats::default(),
            router: RouterStats::default(),
            acl: AclStats::default(),
            handed_off: 0,
            sync_sent: 0,
            sync_applied: 0,
            nodes: [NodeCounters::default(); crate::pipeline::Node::COUNT],
        }
    }
}

impl Stats {
    /// The counters of `port`, growing the table when a device was added.
    #[inline]
    pub fn port(&mut self, port: PortIdx) -> &mut PortCounters {
        let i = port as usize;
        if i >= self.ports.len() {
            self.ports.resize(i + 1, PortCounters::default());
        }
        &mut self.ports[i]
    }

    /// Counts one dropped frame that arrived on `port`.
    #[inline]
    pub fn drop(&mut self, port: PortIdx, reason: DropReason) {
        self.drops[reason as usize] += 1;
        self.port(port).rx_dropped += 1;
    }

    /// Total of all drop counters.
    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum()
    }
}
