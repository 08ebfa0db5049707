//! A pcapng writer (the PCAP Next Generation capture file format, IETF
//! draft-ietf-opsawg-pcapng): a Section Header Block, an Interface Description Block per
//! device with its name (`if_name`) and nanosecond timestamps (`if_tsresol` 9), an
//! Enhanced Packet Block per frame with its direction (`epb_flags`), and at the end an
//! Interface Statistics Block per device with the frames delivered and dropped. Little
//! endian; every block and option padded to 32 bits. What tshark and Wireshark read.

use std::io::{self, Write};

/// Block types.
const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 0x0000_0001;
const ISB: u32 = 0x0000_0005;
const EPB: u32 = 0x0000_0006;
/// The byte-order magic of a section header.
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
/// Option codes.
const OPT_END: u16 = 0;
const SHB_USERAPPL: u16 = 4;
const IF_NAME: u16 = 2;
const IF_TSRESOL: u16 = 9;
const EPB_FLAGS: u16 = 2;
const ISB_ENDTIME: u16 = 3;
const ISB_OSDROP: u16 = 7;
const ISB_USRDELIV: u16 = 8;
/// `epb_flags` direction bits: inbound, outbound.
const INBOUND: u32 = 1;
const OUTBOUND: u32 = 2;

/// The direction of a frame, as `epb_flags` records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Way {
    /// Received by the device.
    Inbound,
    /// Sent on the device.
    Outbound,
}

/// One frame to record.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    /// The interface (index of [`Writer::new`]'s names).
    pub interface: u32,
    /// Nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    /// Length on the wire.
    pub len: u32,
    /// Received or sent.
    pub way: Way,
    /// The bytes captured.
    pub data: &'a [u8],
}

/// Writes one section of Ethernet interfaces.
pub struct Writer<W: Write> {
    out: W,
    interfaces: u32,
    block: Vec<u8>,
}

impl<W: Write> Writer<W> {
    /// Starts a section written by `application`, with one Ethernet interface per name
    /// (`tap1653ec91-ad`), each capturing up to `snaplen` bytes.
    pub fn new(out: W, application: &str, names: &[String], snaplen: u32) -> io::Result<Self> {
        let mut w = Writer {
            out,
            interfaces: u32::try_from(names.len()).unwrap_or(u32::MAX),
            block: Vec::with_capacity(4096),
        };
        w.begin(SHB);
        w.u32(BYTE_ORDER_MAGIC);
        w.u16(1); // major version
        w.u16(0); // minor version
        w.block.extend_from_slice(&(-1i64).to_le_bytes()); // section length: not given
        w.option(SHB_USERAPPL, application.as_bytes());
        w.option(OPT_END, &[]);
        w.finish()?;
        for name in names {
            w.begin(IDB);
            w.u16(1); // LINKTYPE_ETHERNET
            w.u16(0); // reserved
            w.u32(snaplen);
            w.option(IF_NAME, name.as_bytes());
            w.option(IF_TSRESOL, &[9]);
            w.option(OPT_END, &[]);
            w.finish()?;
        }
        Ok(w)
    }

    /// Records one frame; an unknown interface is an error.
    pub fn packet(&mut self, p: &Packet) -> io::Result<()> {
        self.known(p.interface)?;
        let captured = u32::try_from(p.data.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame over 4 GiB"))?;
        self.begin(EPB);
        self.u32(p.interface);
        self.timestamp(p.ts_ns);
        self.u32(captured);
        self.u32(p.len.max(captured));
        self.padded(p.data);
        let flags = match p.way {
            Way::Inbound => INBOUND,
            Way::Outbound => OUTBOUND,
        };
        self.option(EPB_FLAGS, &flags.to_le_bytes());
        self.option(OPT_END, &[]);
        self.finish()
    }

    /// Records how many frames of `interface` were delivered and dropped (by the
    /// appliance, for want of room in the reader's buffer) by `ts_ns`.
    pub fn statistics(
        &mut self,
        interface: u32,
        ts_ns: u64,
        delivered: u64,
        dropped: u64,
    ) -> io::Result<()> {
        self.known(interface)?;
        self.begin(ISB);
        self.u32(interface);
        self.timestamp(ts_ns);
        let mut end = [0u8; 8];
        end[..4].copy_from_slice(&((ts_ns >> 32) as u32).to_le_bytes());
        end[4..].copy_from_slice(&(ts_ns as u32).to_le_bytes());
        self.option(ISB_ENDTIME, &end);
        self.option(ISB_OSDROP, &dropped.to_le_bytes());
        self.option(ISB_USRDELIV, &delivered.to_le_bytes());
        self.option(OPT_END, &[]);
        self.finish()
    }

    /// Pushes what was written to the output.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The output, once done.
    pub fn into_inner(self) -> W {
        self.out
    }

    fn known(&self, interface: u32) -> io::Result<()> {
        if interface < self.interfaces {
            return Ok(());
        }
        let msg = format!("interface {interface} not in the section");
        Err(io::Error::new(io::ErrorKind::InvalidInput, msg))
    }

    fn begin(&mut self, kind: u32) {
        self.block.clear();
        self.u32(kind);
        self.u32(0); // total length, set by finish
    }

    fn u16(&mut self, v: u16) {
        self.block.extend_from_slice(&v.to_le_bytes());
    }

    fn u32(&mut self, v: u32) {
        self.block.extend_from_slice(&v.to_le_bytes());
    }

    /// A timestamp in units of the interfaces' resolution (ns): high word, low word.
    fn timestamp(&mut self, ts_ns: u64) {
        self.u32((ts_ns >> 32) as u32);
        self.u32(ts_ns as u32);
    }

    fn padded(&mut self, bytes: &[u8]) {
        self.block.extend_from_slice(bytes);
        let pad = (4 - bytes.len() % 4) % 4;
        self.block.extend_from_slice(&[0; 3][..pad]);
    }

    fn option(&mut self, code: u16, value: &[u8]) {
        self.u16(code);
        self.u16(u16::try_from(value.len()).unwrap_or(u16::MAX));
        self.padded(&value[..value.len().min(usize::from(u16::MAX))]);
    }

    /// Closes the block with its length (at both ends) and writes it.
    fn finish(&mut self) -> io::Result<()> {
        let total = u32::try_from(self.block.len() + 4)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "block over 4 GiB"))?;
        self.block[4..8].copy_from_slice(&total.to_le_bytes());
        self.u32(total);
        self.out.write_all(&self.block)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block read back: type, body (between the length fields).
    fn blocks(mut bytes: &[u8]) -> Vec<(u32, Vec<u8>)> {
        let mut out = Vec::new();
        let le = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        while !bytes.is_empty() {
            let kind = le(&bytes[0..4]);
            let total = le(&bytes[4..8]) as usize;
            assert_eq!(total % 4, 0, "block lengths are multiples of 4");
            assert_eq!(
                le(&bytes[total - 4..total]) as usize,
                total,
                "trailing length"
            );
            out.push((kind, bytes[8..total - 4].to_vec()));
            bytes = &bytes[total..];
        }
        out
    }

    /// The options of a block body from `at` on: (code, value).
    fn options(body: &[u8], mut at: usize) -> Vec<(u16, Vec<u8>)> {
        let mut out = Vec::new();
        loop {
            let code = u16::from_le_bytes([body[at], body[at + 1]]);
            let len = usize::from(u16::from_le_bytes([body[at + 2], body[at + 3]]));
            if code == OPT_END {
                assert_eq!(at + 4, body.len(), "opt_endofopt is last");
                return out;
            }
            out.push((code, body[at + 4..at + 4 + len].to_vec()));
            at += 4 + len.div_ceil(4) * 4;
        }
    }

    #[test]
    fn a_section_with_named_interfaces_packets_and_statistics() {
        let names = vec!["tap1653ec91-ad".to_string(), "eth1".to_string()];
        let mut w = Writer::new(Vec::new(), "vrouterctl", &names, 262_144).unwrap();
        let ts = 1_764_590_000_123_456_789u64;
        let frame = [0xaau8; 43];
        let p = Packet {
            interface: 1,
            ts_ns: ts,
            len: 60,
            way: Way::Outbound,
            data: &frame,
        };
        w.packet(&p).unwrap();
        w.statistics(0, ts + 1, 5, 7).unwrap();
        let bad = Packet { interface: 2, ..p };
        assert!(w.packet(&bad).is_err(), "interface 2 was never described");
        let bytes = w.into_inner();
        let b = blocks(&bytes);
        assert_eq!(
            b.iter().map(|x| x.0).collect::<Vec<_>>(),
            [SHB, IDB, IDB, EPB, ISB]
        );

        let shb = &b[0].1;
        assert_eq!(&shb[0..4], &BYTE_ORDER_MAGIC.to_le_bytes());
        assert_eq!(&shb[4..8], &[1, 0, 0, 0]);
        assert_eq!(options(shb, 16), [(SHB_USERAPPL, b"vrouterctl".to_vec())]);

        let idb = &b[1].1;
        assert_eq!(&idb[0..2], &[1, 0], "LINKTYPE_ETHERNET");
        assert_eq!(&idb[4..8], &262_144u32.to_le_bytes());
        let idb_opts = options(idb, 8);
        assert_eq!(idb_opts[0], (IF_NAME, b"tap1653ec91-ad".to_vec()));
        assert_eq!(idb_opts[1], (IF_TSRESOL, vec![9]));
        assert_eq!(options(&b[2].1, 8)[0], (IF_NAME, b"eth1".to_vec()));

        let epb = &b[3].1;
        let word = |at: usize| u32::from_le_bytes([epb[at], epb[at + 1], epb[at + 2], epb[at + 3]]);
        assert_eq!(word(0), 1, "interface id");
        assert_eq!((u64::from(word(4)) << 32) | u64::from(word(8)), ts);
        assert_eq!(
            (word(12), word(16)),
            (43, 60),
            "captured and original length"
        );
        assert_eq!(&epb[20..63], &frame[..]);
        assert_eq!(&epb[63..64], &[0], "data padded to 32 bits");
        assert_eq!(
            options(epb, 64),
            [(EPB_FLAGS, OUTBOUND.to_le_bytes().to_vec())]
        );

        let isb = &b[4].1;
        let isb_opts = options(isb, 12);
        assert_eq!(isb_opts[1], (ISB_OSDROP, 7u64.to_le_bytes().to_vec()));
        assert_eq!(isb_opts[2], (ISB_USRDELIV, 5u64.to_le_bytes().to_vec()));
    }
}
