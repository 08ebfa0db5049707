//! BOOTP/DHCP messages (RFC 951, RFC 2131 §2) and their options (RFC 2132): a view of a
//! message, a bounded option iterator, a parser of what a server needs from a client
//! message ([`Repr`]) and an emitter of server replies ([`Reply`]).

use super::{be16, be32, put16, put32, Error, Mac, Result};

/// UDP port of servers and relays (RFC 2131 §4.1).
pub const SERVER_PORT: u16 = 67;
/// UDP port of clients (RFC 2131 §4.1).
pub const CLIENT_PORT: u16 = 68;
/// The magic cookie that starts the options field (RFC 2131 §3, RFC 2132 §2).
pub const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];
/// Offset of the magic cookie: the end of the fixed BOOTP fields.
const COOKIE_AT: usize = 236;
/// Offset of the options field; also the shortest message this module accepts.
pub const OPTIONS_AT: usize = 240;
/// Offset and length of the `sname` field.
const SNAME: (usize, usize) = (44, 64);
/// Offset and length of the `file` field.
const FILE: (usize, usize) = (108, 128);
/// Shortest BOOTP message relay agents must accept (RFC 1542 §2.1): replies are padded to it.
pub const MIN_MESSAGE_LEN: usize = 300;
/// Longest message every client accepts: a 576-octet datagram less IPv4 and UDP headers
/// (RFC 2131 §2: options field of at least 312 octets).
pub const DEFAULT_MAX_MESSAGE_LEN: usize = 548;
/// The BROADCAST bit of `flags` (RFC 2131 §2, figure 2).
pub const FLAG_BROADCAST: u16 = 0x8000;
/// Hardware type of Ethernet (RFC 1700 "Hardware Type").
pub const HTYPE_ETHERNET: u8 = 1;

/// Values of the `op` field.
pub mod op {
    /// Client to server.
    pub const BOOTREQUEST: u8 = 1;
    /// Server to client.
    pub const BOOTREPLY: u8 = 2;
}

/// Option codes this module reads or writes (RFC 2132, RFC 3442).
pub mod opt {
    /// Pad (§3.1).
    pub const PAD: u8 = 0;
    /// Subnet mask (§3.3).
    pub const SUBNET_MASK: u8 = 1;
    /// Routers (§3.5).
    pub const ROUTER: u8 = 3;
    /// Domain name servers (§3.8).
    pub const DNS_SERVERS: u8 = 6;
    /// Host name (§3.14).
    pub const HOST_NAME: u8 = 12;
    /// Domain name (§3.17).
    pub const DOMAIN_NAME: u8 = 15;
    /// Interface MTU (§5.1).
    pub const INTERFACE_MTU: u8 = 26;
    /// Requested IP address (§9.1).
    pub const REQUESTED_IP: u8 = 50;
    /// IP address lease time (§9.2).
    pub const LEASE_TIME: u8 = 51;
    /// Option overload (§9.3).
    pub const OVERLOAD: u8 = 52;
    /// DHCP message type (§9.6).
    pub const MESSAGE_TYPE: u8 = 53;
    /// Server identifier (§9.7).
    pub const SERVER_ID: u8 = 54;
    /// Parameter request list (§9.8).
    pub const PARAMETER_REQUEST_LIST: u8 = 55;
    /// Maximum DHCP message size (§9.10).
    pub const MAX_MESSAGE_SIZE: u8 = 57;
    /// Renewal (T1) time (§9.11).
    pub const RENEWAL_TIME: u8 = 58;
    /// Rebinding (T2) time (§9.12).
    pub const REBINDING_TIME: u8 = 59;
    /// Client identifier (§9.14).
    pub const CLIENT_ID: u8 = 61;
    /// Classless static routes (RFC 3442).
    pub const CLASSLESS_ROUTES: u8 = 121;
    /// End (§3.2).
    pub const END: u8 = 255;
}

/// DHCP message types (RFC 2132 §9.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum MessageType {
    /// Client broadcast to locate servers.
    Discover = 1,
    /// Server offer of parameters.
    Offer = 2,
    /// Client request of offered parameters, or confirmation or extension of a lease.
    Request = 3,
    /// Client to server: the address is already in use.
    Decline = 4,
    /// Server to client: parameters, with the committed address.
    Ack = 5,
    /// Server to client: the client's notion of its address is wrong.
    Nak = 6,
    /// Client to server: relinquishes the address.
    Release = 7,
    /// Client to server: asks for local parameters only.
    Inform = 8,
}

impl MessageType {
    /// The type with code `v`, if it is one.
    pub fn from_u8(v: u8) -> Option<MessageType> {
        Some(match v {
            1 => MessageType::Discover,
            2 => MessageType::Offer,
            3 => MessageType::Request,
            4 => MessageType::Decline,
            5 => MessageType::Ack,
            6 => MessageType::Nak,
            7 => MessageType::Release,
            8 => MessageType::Inform,
            _ => return None,
        })
    }
}

/// A view of a BOOTP/DHCP message.
#[derive(Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buf` after checking it holds the fixed fields and the magic cookie (RFC 2131
    /// §3): shorter is `Truncated`, another cookie (plain BOOTP, garbage) is `Malformed`.
    pub fn new_checked(buf: T) -> Result<Self> {
        let b = buf.as_ref();
        if b.len() < OPTIONS_AT {
            return Err(Error::Truncated);
        }
        if b[COOKIE_AT..OPTIONS_AT] != MAGIC_COOKIE {
            return Err(Error::Malformed);
        }
        Ok(Packet { buf })
    }
    /// Message op code ([`op`]).
    pub fn op(&self) -> u8 {
        self.buf.as_ref()[0]
    }
    /// Hardware address type.
    pub fn htype(&self) -> u8 {
        self.buf.as_ref()[1]
    }
    /// Hardware address length.
    pub fn hlen(&self) -> u8 {
        self.buf.as_ref()[2]
    }
    /// Relay hops.
    pub fn hops(&self) -> u8 {
        self.buf.as_ref()[3]
    }
    /// Transaction id.
    pub fn xid(&self) -> u32 {
        be32(self.buf.as_ref(), 4)
    }
    /// Seconds since the client began acquisition or renewal.
    pub fn secs(&self) -> u16 {
        be16(self.buf.as_ref(), 8)
    }
    /// Flags ([`FLAG_BROADCAST`]).
    pub fn flags(&self) -> u16 {
        be16(self.buf.as_ref(), 10)
    }
    /// Client IP address (host byte order).
    pub fn ciaddr(&self) -> u32 {
        be32(self.buf.as_ref(), 12)
    }
    /// "Your" (client) IP address (host byte order).
    pub fn yiaddr(&self) -> u32 {
        be32(self.buf.as_ref(), 16)
    }
    /// Next server IP address (host byte order).
    pub fn siaddr(&self) -> u32 {
        be32(self.buf.as_ref(), 20)
    }
    /// Relay agent IP address (host byte order).
    pub fn giaddr(&self) -> u32 {
        be32(self.buf.as_ref(), 24)
    }
    /// The 16-byte client hardware address field.
    pub fn chaddr(&self) -> &[u8] {
        &self.buf.as_ref()[28..44]
    }
    /// The options after the magic cookie, up to the end of the buffer.
    pub fn options(&self) -> Options<'_> {
        let b = self.buf.as_ref();
        Options {
            region: &b[OPTIONS_AT..],
            file: &b[FILE.0..FILE.0 + FILE.1],
            sname: &b[SNAME.0..SNAME.0 + SNAME.1],
            pending: 0,
            in_main: true,
            done: false,
        }
    }
}

/// Iterator over the options of a message: `(code, data)` for each option, PAD skipped,
/// END closing a field; then the `file` and `sname` fields when option 52 overloads them
/// (RFC 2131 §4.1: `file` first). An option running past its field (overlong, or a length
/// byte missing) yields one `Err` and ends the iteration. Each step consumes at least one
/// byte of at most three fields, so the iteration is bounded by the message length.
#[derive(Debug)]
pub struct Options<'a> {
    region: &'a [u8],
    file: &'a [u8],
    sname: &'a [u8],
    /// Fields still to read: bit 1 `file`, bit 2 `sname` (option 52's values).
    pending: u8,
    in_main: bool,
    done: bool,
}

impl<'a> Options<'a> {
    /// Moves to the next overloaded field; false when there is none.
    fn next_region(&mut self) -> bool {
        self.in_main = false;
        if self.pending & 1 != 0 {
            self.pending &= !1;
            self.region = self.file;
        } else if self.pending & 2 != 0 {
            self.pending &= !2;
            self.region = self.sname;
        } else {
            return false;
        }
        true
    }

    /// Ends the iteration with `e`.
    fn fail(&mut self, e: Error) -> Option<Result<(u8, &'a [u8])>> {
        self.done = true;
        Some(Err(e))
    }
}

impl<'a> Iterator for Options<'a> {
    type Item = Result<(u8, &'a [u8])>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let Some((&code, rest)) = self.region.split_first() else {
                // A field without END: what it holds is all there is.
                if self.next_region() {
                    continue;
                }
                self.done = true;
                return None;
            };
            match code {
                opt::PAD => self.region = rest,
                opt::END => {
                    self.region = &[];
                    if !self.next_region() {
                        self.done = true;
                    }
                }
                _ => {
                    let Some((&len, rest)) = rest.split_first() else {
                        return self.fail(Error::Truncated);
                    };
                    let Some(data) = rest.get(..len as usize) else {
                        return self.fail(Error::Malformed);
                    };
                    self.region = &rest[len as usize..];
                    if code == opt::OVERLOAD {
                        // RFC 2132 §9.3: only in the options field, once, value 1..=3.
                        if !self.in_main
                            || self.pending != 0
                            || len != 1
                            || !(1..=3).contains(&data[0])
                        {
                            return self.fail(Error::Malformed);
                        }
                        self.pending = data[0];
                        continue;
                    }
                    return Some(Ok((code, data)));
                }
            }
        }
        None
    }
}

/// A set of option codes below 128, as a client's parameter request list names them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ParamSet(u128);

impl ParamSet {
    /// The codes below 128 that `list` names (higher ones are not tracked).
    pub fn from_list(list: &[u8]) -> ParamSet {
        ParamSet(
            list.iter()
                .filter(|&&c| c < 128)
                .fold(0, |s, &c| s | 1 << c),
        )
    }
    /// True if `code` is in the set.
    pub fn contains(&self, code: u8) -> bool {
        code < 128 && self.0 & (1 << code) != 0
    }
}

/// What a server needs of a client message (RFC 2131 §4.3), borrowed from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr<'a> {
    /// [`op::BOOTREQUEST`] from clients.
    pub op: u8,
    /// Relay hops.
    pub hops: u8,
    /// Transaction id.
    pub xid: u32,
    /// Seconds elapsed.
    pub secs: u16,
    /// Flags ([`FLAG_BROADCAST`]).
    pub flags: u16,
    /// Client IP address (host byte order).
    pub ciaddr: u32,
    /// "Your" IP address (host byte order).
    pub yiaddr: u32,
    /// Next server IP address (host byte order).
    pub siaddr: u32,
    /// Relay agent IP address (host byte order).
    pub giaddr: u32,
    /// Client hardware address (Ethernet: htype 1, hlen 6).
    pub chaddr: Mac,
    /// Option 53.
    pub message_type: MessageType,
    /// Option 50 (host byte order).
    pub requested_ip: Option<u32>,
    /// Option 54 (host byte order).
    pub server_id: Option<u32>,
    /// Option 55, empty when absent.
    pub parameter_request_list: &'a [u8],
    /// Option 57.
    pub max_message_size: Option<u16>,
    /// Option 61.
    pub client_id: Option<&'a [u8]>,
    /// Option 12.
    pub host_name: Option<&'a [u8]>,
}

/// Stores option data `d` into `slot`, refusing a second occurrence: repeated options (RFC
/// 3396 concatenation, which clients do not use for these) are treated as overlapping.
fn once<'a>(slot: &mut Option<&'a [u8]>, d: &'a [u8]) -> Result<()> {
    if slot.replace(d).is_some() {
        return Err(Error::Malformed);
    }
    Ok(())
}

/// `d` as an IPv4 address, if it is exactly four bytes.
fn addr(d: &[u8]) -> Result<u32> {
    if d.len() != 4 {
        return Err(Error::Malformed);
    }
    Ok(be32(d, 0))
}

impl<'a> Repr<'a> {
    /// Parses a DHCP message on Ethernet. `Malformed`: an option overruns its field, has a
    /// wrong length or appears twice; `Unsupported`: no message type (plain BOOTP), an
    /// unknown one, or a hardware type other than Ethernet.
    pub fn parse<T: AsRef<[u8]>>(p: &'a Packet<T>) -> Result<Repr<'a>> {
        let (mut mtype, mut req_ip, mut sid, mut prl, mut mms, mut cid, mut host) =
            (None, None, None, None, None, None, None);
        for o in p.options() {
            let (code, d) = o?;
            match code {
                opt::MESSAGE_TYPE => once(&mut mtype, d)?,
                opt::REQUESTED_IP => once(&mut req_ip, d)?,
                opt::SERVER_ID => once(&mut sid, d)?,
                opt::PARAMETER_REQUEST_LIST => once(&mut prl, d)?,
                opt::MAX_MESSAGE_SIZE => once(&mut mms, d)?,
                opt::CLIENT_ID => once(&mut cid, d)?,
                opt::HOST_NAME => once(&mut host, d)?,
                _ => {}
            }
        }
        let mtype = match mtype {
            None => return Err(Error::Unsupported),
            Some([t]) => MessageType::from_u8(*t).ok_or(Error::Unsupported)?,
            Some(_) => return Err(Error::Malformed),
        };
        if p.htype() != HTYPE_ETHERNET || p.hlen() != 6 {
            return Err(Error::Unsupported);
        }
        // RFC 2132: client id at least 2 bytes, the others at least 1; size at least 576.
        let too_short = |o: Option<&[u8]>, min: usize| o.is_some_and(|d| d.len() < min);
        if too_short(cid, 2) || too_short(prl, 1) || too_short(host, 1) {
            return Err(Error::Malformed);
        }
        let max_message_size = match mms {
            None => None,
            Some(d) if d.len() == 2 && be16(d, 0) >= 576 => Some(be16(d, 0)),
            Some(_) => return Err(Error::Malformed),
        };
        Ok(Repr {
            op: p.op(),
            hops: p.hops(),
            xid: p.xid(),
            secs: p.secs(),
            flags: p.flags(),
            ciaddr: p.ciaddr(),
            yiaddr: p.yiaddr(),
            siaddr: p.siaddr(),
            giaddr: p.giaddr(),
            chaddr: Mac::from_bytes(p.chaddr()),
            message_type: mtype,
            requested_ip: req_ip.map(addr).transpose()?,
            server_id: sid.map(addr).transpose()?,
            parameter_request_list: prl.unwrap_or(&[]),
            max_message_size,
            client_id: cid,
            host_name: host,
        })
    }
}

/// A classless static route (RFC 3442): destination prefix and router, host byte order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// Destination network.
    pub dest: u32,
    /// Destination prefix length, 0..=32.
    pub prefix_len: u8,
    /// Router to reach it through.
    pub gateway: u32,
}

impl Route {
    /// Bytes of the route in option 121: width, significant destination octets, router.
    fn encoded_len(&self) -> usize {
        1 + (self.prefix_len.min(32) as usize).div_ceil(8) + 4
    }
}

/// Lease times of an OFFER or ACK, in seconds (RFC 2132 §9.2, §9.11, §9.12).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseTimes {
    /// Option 51.
    pub lease: u32,
    /// Option 58 (T1).
    pub renewal: u32,
    /// Option 59 (T2).
    pub rebinding: u32,
}

impl LeaseTimes {
    /// `lease` with the RFC 2131 §4.4.5 defaults: T1 = 0.5 and T2 = 0.875 of the lease.
    pub fn with_defaults(lease: u32) -> LeaseTimes {
        LeaseTimes {
            lease,
            renewal: lease / 2,
            rebinding: (lease as u64 * 7 / 8) as u32,
        }
    }
}

/// A server reply (OFFER, ACK, NAK; RFC 2131 §4.3, table 3). Options are emitted in this
/// order when set or non-empty: 53, 54, 51, 58, 59, 1, 3, 6, 15, 12, 26, 121, 255; the
/// message is padded with zeros to [`MIN_MESSAGE_LEN`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply<'a> {
    /// Option 53.
    pub message_type: MessageType,
    /// Transaction id, from the client.
    pub xid: u32,
    /// Flags, from the client.
    pub flags: u16,
    /// Client address (ACK to a renewal or INFORM), else 0 (host byte order).
    pub ciaddr: u32,
    /// The client's address (OFFER, ACK), else 0.
    pub yiaddr: u32,
    /// Next server address, 0 when none.
    pub siaddr: u32,
    /// Relay agent address, from the client.
    pub giaddr: u32,
    /// Client hardware address (Ethernet), from the client.
    pub chaddr: Mac,
    /// Option 54: the server's address.
    pub server_id: u32,
    /// Options 51, 58 and 59.
    pub lease: Option<LeaseTimes>,
    /// Option 1.
    pub subnet_mask: Option<u32>,
    /// Option 3.
    pub router: Option<u32>,
    /// Option 6 (at most 63 addresses).
    pub dns_servers: &'a [u32],
    /// Option 15, absent when empty.
    pub domain_name: &'a [u8],
    /// Option 12, absent when empty.
    pub host_name: &'a [u8],
    /// Option 26.
    pub mtu: Option<u16>,
    /// Option 121, absent when empty.
    pub classless_routes: &'a [Route],
}

/// A checked writer into a byte slice.
struct Cursor<'b> {
    buf: &'b mut [u8],
    at: usize,
}

impl Cursor<'_> {
    /// Appends `bytes`; `Truncated` if they do not fit.
    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        let end = self.at + bytes.len();
        self.buf
            .get_mut(self.at..end)
            .ok_or(Error::Truncated)?
            .copy_from_slice(bytes);
        self.at = end;
        Ok(())
    }
    /// Appends an option header; `Unsupported` if `len` exceeds one option's 255 bytes.
    fn head(&mut self, code: u8, len: usize) -> Result<()> {
        let len = u8::try_from(len).map_err(|_| Error::Unsupported)?;
        self.put(&[code, len])
    }
    /// Appends an option with data `d`.
    fn opt(&mut self, code: u8, d: &[u8]) -> Result<()> {
        self.head(code, d.len())?;
        self.put(d)
    }
}

impl Reply<'_> {
    /// Length of the options field this reply needs, cookie excluded, END included.
    fn options_len(&self) -> usize {
        let some = |b: bool, n: usize| if b { n } else { 0 };
        let data = |n: usize| some(n > 0, 2 + n);
        3 + 6
            + some(self.lease.is_some(), 18)
            + some(self.subnet_mask.is_some(), 6)
            + some(self.router.is_some(), 6)
            + data(self.dns_servers.len() * 4)
            + data(self.domain_name.len())
            + data(self.host_name.len())
            + some(self.mtu.is_some(), 4)
            + data(self.classless_routes.iter().map(Route::encoded_len).sum())
            + 1
    }

    /// Bytes the emitted message takes: [`OPTIONS_AT`] plus the options, at least
    /// [`MIN_MESSAGE_LEN`].
    pub fn buffer_len(&self) -> usize {
        (OPTIONS_AT + self.options_len()).max(MIN_MESSAGE_LEN)
    }

    /// Writes the message into `buf[..buffer_len()]` and returns its length. `Truncated`
    /// if `buf` is shorter; `Unsupported` if an option would exceed 255 bytes.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        let b = buf.get_mut(..len).ok_or(Error::Truncated)?;
        b[..OPTIONS_AT].fill(0);
        b[0] = op::BOOTREPLY;
        b[1] = HTYPE_ETHERNET;
        b[2] = 6;
        put32(b, 4, self.xid);
        put16(b, 10, self.flags);
        put32(b, 12, self.ciaddr);
        put32(b, 16, self.yiaddr);
        put32(b, 20, self.siaddr);
        put32(b, 24, self.giaddr);
        b[28..34].copy_from_slice(&self.chaddr.0);
        b[COOKIE_AT..OPTIONS_AT].copy_from_slice(&MAGIC_COOKIE);
        let mut c = Cursor {
            buf: b,
            at: OPTIONS_AT,
        };
        c.opt(opt::MESSAGE_TYPE, &[self.message_type as u8])?;
        c.opt(opt::SERVER_ID, &self.server_id.to_be_bytes())?;
        if let Some(l) = self.lease {
            c.opt(opt::LEASE_TIME, &l.lease.to_be_bytes())?;
            c.opt(opt::RENEWAL_TIME, &l.renewal.to_be_bytes())?;
            c.opt(opt::REBINDING_TIME, &l.rebinding.to_be_bytes())?;
        }
        if let Some(m) = self.subnet_mask {
            c.opt(opt::SUBNET_MASK, &m.to_be_bytes())?;
        }
        if let Some(r) = self.router {
            c.opt(opt::ROUTER, &r.to_be_bytes())?;
        }
        if !self.dns_servers.is_empty() {
            c.head(opt::DNS_SERVERS, self.dns_servers.len() * 4)?;
            for s in self.dns_servers {
                c.put(&s.to_be_bytes())?;
            }
        }
        if !self.domain_name.is_empty() {
            c.opt(opt::DOMAIN_NAME, self.domain_name)?;
        }
        if !self.host_name.is_empty() {
            c.opt(opt::HOST_NAME, self.host_name)?;
        }
        if let Some(mtu) = self.mtu {
            c.opt(opt::INTERFACE_MTU, &mtu.to_be_bytes())?;
        }
        if !self.classless_routes.is_empty() {
            let n = self.classless_routes.iter().map(Route::encoded_len).sum();
            c.head(opt::CLASSLESS_ROUTES, n)?;
            // RFC 3442: width, the significant octets of the destination, the router.
            for r in self.classless_routes {
                let width = r.prefix_len.min(32);
                c.put(&[width])?;
                c.put(&r.dest.to_be_bytes()[..(width as usize).div_ceil(8)])?;
                c.put(&r.gateway.to_be_bytes())?;
            }
        }
        c.put(&[opt::END])?;
        let end = c.at;
        b[end..].fill(0);
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0xfa, 0x16, 0x3e, 0x75, 0xe0, 0x5a];

    /// The fixed fields of a BOOTREQUEST from MAC with xid 0x3903f326, then `options`
    /// after the cookie, padded to 300 bytes.
    fn request(options: &[u8]) -> Vec<u8> {
        let mut m = vec![1, 1, 6, 0, 0x39, 0x03, 0xf3, 0x26, 0, 3, 0x80, 0];
        m.extend_from_slice(&[0; 16]); // ciaddr yiaddr siaddr giaddr
        m.extend_from_slice(&MAC);
        m.resize(COOKIE_AT, 0);
        m.extend_from_slice(&[99, 130, 83, 99]);
        m.extend_from_slice(options);
        if m.len() < 300 {
            m.resize(300, 0);
        }
        m
    }

    const DISCOVER_OPTS: [u8; 24] = [
        53, 1, 1, // DISCOVER
        50, 4, 10, 0, 0, 10, // requested 10.0.0.10
        55, 5, 1, 3, 6, 15, 121, // parameter request list
        61, 7, 1, 0xfa, 0x16, 0x3e, 0x75, 0xe0, // client id (cut below)
    ];

    fn discover() -> Vec<u8> {
        let mut o = DISCOVER_OPTS.to_vec();
        o.push(0x5a);
        o.extend_from_slice(&[
            12, 5, b'v', b'm', b'0', b'0', b'1', 57, 2, 0x05, 0xdc, 0, 0, 255,
        ]);
        request(&o)
    }

    #[test]
    fn parses_a_discover() {
        let b = discover();
        let p = Packet::new_checked(&b[..]).unwrap();
        let r = Repr::parse(&p).unwrap();
        assert_eq!(r.op, op::BOOTREQUEST);
        assert_eq!(r.xid, 0x3903f326);
        assert_eq!(r.secs, 3);
        assert_eq!(r.flags, FLAG_BROADCAST);
        assert_eq!(r.chaddr, Mac(MAC));
        assert_eq!(r.message_type, MessageType::Discover);
        assert_eq!(r.requested_ip, Some(u32::from_be_bytes([10, 0, 0, 10])));
        assert_eq!(r.server_id, None);
        assert_eq!(r.parameter_request_list, &[1, 3, 6, 15, 121]);
        assert_eq!(
            r.client_id,
            Some(&[1, 0xfa, 0x16, 0x3e, 0x75, 0xe0, 0x5a][..])
        );
        assert_eq!(r.host_name, Some(&b"vm001"[..]));
        assert_eq!(r.max_message_size, Some(1500));
        let prl = ParamSet::from_list(r.parameter_request_list);
        assert!(prl.contains(121) && prl.contains(1) && !prl.contains(12));
        assert!(!prl.contains(200));
    }

    #[test]
    fn truncated_and_missing_cookie_rejected() {
        let b = discover();
        assert_eq!(
            Packet::new_checked(&b[..OPTIONS_AT - 1]).unwrap_err(),
            Error::Truncated
        );
        let mut v = b.clone();
        v[COOKIE_AT + 3] = 0x64;
        assert_eq!(Packet::new_checked(&v[..]).unwrap_err(), Error::Malformed);
        // Cookie only, no options at all: a BOOTP request, not served.
        let p = Packet::new_checked(&b[..OPTIONS_AT]).unwrap();
        assert_eq!(Repr::parse(&p).unwrap_err(), Error::Unsupported);
    }

    #[test]
    fn overlong_and_cut_options_rejected() {
        // An option whose length runs past the message.
        let mut b = request(&[53, 1, 1]);
        b.truncate(OPTIONS_AT + 3);
        b.extend_from_slice(&[12, 9, b'a', b'b']);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(Repr::parse(&p).unwrap_err(), Error::Malformed);
        let errs: Vec<_> = p.options().collect();
        assert_eq!(errs, vec![Ok((53, &[1][..])), Err(Error::Malformed)]);
        // A code with its length byte missing.
        let mut b = request(&[53, 1, 1]);
        b.truncate(OPTIONS_AT + 3);
        b.push(12);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(Repr::parse(&p).unwrap_err(), Error::Truncated);
    }

    #[test]
    fn overlapping_and_wrong_length_options_rejected() {
        for opts in [
            &[53, 1, 1, 53, 1, 3, 255][..], // two message types
            &[53, 1, 1, 50, 4, 10, 0, 0, 10, 50, 4, 10, 0, 0, 9, 255], // two requested IPs
            &[53, 2, 1, 1, 255],            // message type of length 2
            &[53, 1, 3, 54, 3, 10, 0, 0, 255], // server id of length 3
            &[53, 1, 1, 61, 1, 1, 255],     // client id of length 1
            &[53, 1, 1, 57, 2, 0x01, 0x00, 255], // max size 256 < 576
            &[53, 1, 1, 55, 0, 255],        // empty parameter request list
            &[53, 1, 1, 52, 1, 4, 255],     // overload value 4
            &[53, 1, 1, 52, 1, 1, 52, 1, 1, 255], // overload twice
        ] {
            let b = request(opts);
            let p = Packet::new_checked(&b[..]).unwrap();
            assert_eq!(Repr::parse(&p).unwrap_err(), Error::Malformed, "{opts:?}");
        }
        for opts in [
            &[53, 1, 9, 255][..], // unknown message type
            &[255],               // no message type
        ] {
            let b = request(opts);
            let p = Packet::new_checked(&b[..]).unwrap();
            assert_eq!(Repr::parse(&p).unwrap_err(), Error::Unsupported, "{opts:?}");
        }
        let mut b = request(&[53, 1, 1, 255]);
        b[1] = 6; // IEEE 802 token ring
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(Repr::parse(&p).unwrap_err(), Error::Unsupported);
    }

    #[test]
    fn pad_end_and_overload_are_honoured() {
        // PADs before, an option after END is ignored; overload 3: file then sname.
        let mut b = request(&[0, 0, 52, 1, 3, 53, 1, 3, 255, 12, 2, b'n', b'o']);
        b[FILE.0..FILE.0 + 8].copy_from_slice(&[0, 54, 4, 10, 0, 0, 3, 255]);
        b[SNAME.0..SNAME.0 + 5].copy_from_slice(&[12, 2, b'h', b'i', 255]);
        let p = Packet::new_checked(&b[..]).unwrap();
        let r = Repr::parse(&p).unwrap();
        assert_eq!(r.message_type, MessageType::Request);
        assert_eq!(r.server_id, Some(u32::from_be_bytes([10, 0, 0, 3])));
        assert_eq!(r.host_name, Some(&b"hi"[..]));
        // Without overload the same fields are not options.
        let mut b = request(&[53, 1, 3, 255]);
        b[FILE.0..FILE.0 + 8].copy_from_slice(&[0, 54, 4, 10, 0, 0, 3, 255]);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(Repr::parse(&p).unwrap().server_id, None);
        // Overload inside an overloaded field is malformed.
        let mut b = request(&[52, 1, 1, 53, 1, 3, 255]);
        b[FILE.0..FILE.0 + 4].copy_from_slice(&[52, 1, 2, 255]);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(Repr::parse(&p).unwrap_err(), Error::Malformed);
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A small xorshift generator: random options after a valid header.
        let mut x: u64 = 0x9e3779b97f4a7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..20_000 {
            let n = (next() % 120) as usize;
            let mut opts: Vec<u8> = (0..n).map(|_| next() as u8).collect();
            if next() % 2 == 0 && n > 3 {
                opts[0] = 53;
                opts[1] = 1;
                opts[2] = (next() % 9) as u8;
            }
            let mut b = request(&opts);
            let cut = OPTIONS_AT + (next() as usize % (b.len() - OPTIONS_AT + 1));
            b.truncate(cut);
            if next() % 4 == 0 {
                b[FILE.0] = next() as u8;
                b[SNAME.0] = next() as u8;
            }
            if let Ok(p) = Packet::new_checked(&b[..]) {
                let _ = Repr::parse(&p);
                assert!(p.options().count() <= b.len());
            }
        }
    }

    fn reply() -> Reply<'static> {
        const DNS: [u32; 2] = [0x0a0165fe, 0x08080808];
        const ROUTES: [Route; 3] = [
            Route {
                dest: 0xc0a80000,
                prefix_len: 16,
                gateway: 0x0a0000fe,
            },
            Route {
                dest: 0x0a000000,
                prefix_len: 9,
                gateway: 0x0a000002,
            },
            Route {
                dest: 0,
                prefix_len: 0,
                gateway: 0x0a000001,
            },
        ];
        Reply {
            message_type: MessageType::Ack,
            xid: 0x3903f326,
            flags: 0,
            ciaddr: 0,
            yiaddr: 0x0a00000a,
            siaddr: 0,
            giaddr: 0,
            chaddr: Mac(MAC),
            server_id: 0x0a000003,
            lease: Some(LeaseTimes::with_defaults(86400)),
            subnet_mask: Some(0xffffff00),
            router: Some(0x0a000001),
            dns_servers: &DNS,
            domain_name: b"openstacklocal",
            host_name: b"host-10-0-0-10",
            mtu: Some(1458),
            classless_routes: &ROUTES,
        }
    }

    #[test]
    fn emits_every_option_byte_exact() {
        let r = reply();
        let mut buf = [0xeeu8; 600];
        let n = r.emit(&mut buf).unwrap();
        assert_eq!(n, r.buffer_len());
        let mut want = vec![2, 1, 6, 0, 0x39, 0x03, 0xf3, 0x26, 0, 0, 0, 0];
        want.extend_from_slice(&[0, 0, 0, 0, 10, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0]);
        want.extend_from_slice(&MAC);
        want.resize(COOKIE_AT, 0);
        want.extend_from_slice(&[99, 130, 83, 99]);
        want.extend_from_slice(&[53, 1, 5]);
        want.extend_from_slice(&[54, 4, 10, 0, 0, 3]);
        want.extend_from_slice(&[51, 4, 0, 1, 0x51, 0x80]); // 86400
        want.extend_from_slice(&[58, 4, 0, 0, 0xa8, 0xc0]); // 43200
        want.extend_from_slice(&[59, 4, 0, 1, 0x27, 0x50]); // 75600
        want.extend_from_slice(&[1, 4, 255, 255, 255, 0]);
        want.extend_from_slice(&[3, 4, 10, 0, 0, 1]);
        want.extend_from_slice(&[6, 8, 10, 1, 101, 254, 8, 8, 8, 8]);
        want.extend_from_slice(&[15, 14]);
        want.extend_from_slice(b"openstacklocal");
        want.extend_from_slice(&[12, 14]);
        want.extend_from_slice(b"host-10-0-0-10");
        want.extend_from_slice(&[26, 2, 0x05, 0xb2]);
        // RFC 3442: 192.168/16 via 10.0.0.254, 10.0/9 via 10.0.0.2, default via 10.0.0.1.
        want.extend_from_slice(&[121, 19, 16, 192, 168, 10, 0, 0, 254]);
        want.extend_from_slice(&[9, 10, 0, 10, 0, 0, 2, 0, 10, 0, 0, 1]);
        want.push(255);
        want.resize(want.len().max(300), 0);
        assert_eq!(&buf[..n], &want[..]);
        assert_eq!(buf[n], 0xee, "nothing written past the message");
    }

    #[test]
    fn nak_is_minimal_and_padded() {
        let r = Reply {
            message_type: MessageType::Nak,
            yiaddr: 0,
            lease: None,
            subnet_mask: None,
            router: None,
            dns_servers: &[],
            domain_name: b"",
            host_name: b"",
            mtu: None,
            classless_routes: &[],
            flags: FLAG_BROADCAST,
            ..reply()
        };
        let mut buf = [0u8; 300];
        assert_eq!(r.emit(&mut buf).unwrap(), 300);
        assert_eq!(
            &buf[OPTIONS_AT..OPTIONS_AT + 10],
            &[53, 1, 6, 54, 4, 10, 0, 0, 3, 255]
        );
        assert!(buf[OPTIONS_AT + 10..].iter().all(|&b| b == 0));
        assert_eq!(&buf[10..12], &[0x80, 0]);
    }

    #[test]
    fn emit_then_parse_round_trip() {
        let r = reply();
        let mut buf = vec![0u8; r.buffer_len()];
        r.emit(&mut buf).unwrap();
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(p.op(), op::BOOTREPLY);
        assert_eq!((p.yiaddr(), p.xid()), (r.yiaddr, r.xid));
        let back = Repr::parse(&p).unwrap();
        assert_eq!(back.message_type, MessageType::Ack);
        assert_eq!(back.server_id, Some(r.server_id));
        assert_eq!(back.chaddr, r.chaddr);
        assert_eq!(back.host_name, Some(r.host_name));
        let codes: Vec<u8> = p.options().map(|o| o.unwrap().0).collect();
        assert_eq!(codes, vec![53, 54, 51, 58, 59, 1, 3, 6, 15, 12, 26, 121]);
    }

    #[test]
    fn emit_refuses_short_buffers_and_oversized_options() {
        let r = reply();
        let mut buf = vec![0u8; r.buffer_len() - 1];
        assert_eq!(r.emit(&mut buf).unwrap_err(), Error::Truncated);
        let long = [b'a'; 256];
        let r = Reply {
            domain_name: &long,
            ..reply()
        };
        let mut buf = vec![0u8; r.buffer_len()];
        assert_eq!(r.emit(&mut buf).unwrap_err(), Error::Unsupported);
    }

    #[test]
    fn lease_defaults() {
        assert_eq!(
            LeaseTimes::with_defaults(86400),
            LeaseTimes {
                lease: 86400,
                renewal: 43200,
                rebinding: 75600
            }
        );
        assert_eq!(LeaseTimes::with_defaults(u32::MAX).rebinding, 3758096383);
    }
}
