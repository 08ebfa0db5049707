//! Capture filters in tcpdump syntax (pcap-filter(7)), compiled by libpcap into classic
//! BPF for Ethernet frames and checked for the worker's interpreter.

use super::bpf::{Insn, Program};

/// Compiles `expr` for Ethernet frames (optimized, as tcpdump does); the error is
/// libpcap's message.
pub fn compile(expr: &str) -> Result<Program, String> {
    let dead = pcap::Capture::dead(pcap::Linktype::ETHERNET).map_err(|e| e.to_string())?;
    let compiled = dead
        .compile(expr, true)
        .map_err(|e| format!("filter {expr:?}: {e}"))?;
    let insns = compiled
        .get_instructions()
        .iter()
        .map(|i| parse_insn(&i.to_string()))
        .collect::<Option<Vec<Insn>>>()
        .ok_or_else(|| format!("filter {expr:?}: libpcap gave an unreadable instruction"))?;
    Program::new(insns).map_err(|e| format!("filter {expr:?}: {e}"))
}

/// An instruction from the pcap crate's text form of `struct bpf_insn`: `code jt jf k`
/// in decimal (the crate keeps the fields private).
fn parse_insn(text: &str) -> Option<Insn> {
    let mut fields = text.split_whitespace();
    let insn = Insn::new(
        fields.next()?.parse().ok()?,
        fields.next()?.parse().ok()?,
        fields.next()?.parse().ok()?,
        fields.next()?.parse().ok()?,
    );
    fields.next().is_none().then_some(insn)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ethernet + IPv4 header + `l4` bytes, protocol `proto`, 10.0.0.9 > 10.1.101.254.
    fn ipv4(proto: u8, l4: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 34];
        f[0..6].copy_from_slice(&[0xfa, 0x16, 0x3e, 0xf7, 0xe6, 0x9c]);
        f[6..12].copy_from_slice(&[0xfa, 0x16, 0x3e, 0x51, 0xa2, 0x97]);
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[14] = 0x45;
        let total = (20 + l4.len()) as u16;
        f[16..18].copy_from_slice(&total.to_be_bytes());
        f[22] = 64;
        f[23] = proto;
        f[26..30].copy_from_slice(&[10, 0, 0, 9]);
        f[30..34].copy_from_slice(&[10, 1, 101, 254]);
        f.extend_from_slice(l4);
        f
    }

    /// Frames of several kinds, some cut short.
    fn frames() -> Vec<Vec<u8>> {
        let icmp = ipv4(1, &[8, 0, 0, 0, 0, 1, 0, 1]);
        let ssh = ipv4(
            6,
            &[
                0xc0, 0x00, 0x00, 22, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0, 0,
            ],
        );
        let dns = ipv4(17, &[0x30, 0x39, 0x00, 53, 0, 8, 0, 0]);
        let mut fragment = icmp.clone();
        fragment[20] = 0x00;
        fragment[21] = 0x10; // offset 128: not the first fragment
        let mut arp = vec![0xff; 6];
        arp.extend_from_slice(&[0xfa, 0x16, 0x3e, 0x51, 0xa2, 0x97, 0x08, 0x06]);
        arp.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
        arp.extend_from_slice(&[0; 20]);
        let mut vlan = icmp[..12].to_vec();
        vlan.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]);
        vlan.extend_from_slice(&icmp[12..]);
        let mut ip6 = icmp[..12].to_vec();
        ip6.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0, 0, 8, 58, 64]);
        ip6.extend_from_slice(&[0; 40]);
        let mut out = vec![icmp.clone(), ssh.clone(), dns, fragment, arp, vlan, ip6];
        for cut in [0, 13, 20, 33, 36] {
            out.push(icmp[..cut].to_vec());
            out.push(ssh[..cut.min(ssh.len())].to_vec());
        }
        out
    }

    #[test]
    fn the_interpreter_agrees_with_libpcap_on_every_frame() {
        let exprs = [
            "icmp",
            "tcp port 22",
            "udp and dst port 53",
            "arp",
            "host 10.0.0.9 and not tcp",
            "src net 10.0.0.0/24",
            "dst host 10.1.101.254",
            "ether src fa:16:3e:51:a2:97",
            "vlan 5 and icmp",
            "ip6",
            "ip[6:2] & 0x1fff != 0",
            "tcp[tcpflags] & tcp-syn != 0",
            "len > 40",
            "greater 100",
            "icmp[icmptype] = icmp-echo",
            "ether broadcast",
        ];
        let dead = pcap::Capture::dead(pcap::Linktype::ETHERNET).unwrap();
        for expr in exprs {
            let ours = compile(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
            let theirs = dead.compile(expr, true).unwrap();
            let mut matched = 0;
            for (n, f) in frames().iter().enumerate() {
                let want = theirs.filter(f);
                assert_eq!(
                    ours.matches(f),
                    want,
                    "{expr:?} on frame {n} ({} bytes)",
                    f.len()
                );
                matched += usize::from(want);
            }
            assert!(
                matched > 0 || expr == "greater 100",
                "{expr:?} matched no frame"
            );
        }
    }

    #[test]
    fn what_tcpdump_refuses_is_refused_with_libpcap_s_reason() {
        let e = compile("icmp and").unwrap_err();
        assert!(e.contains("syntax error"), "{e}");
        let e = compile("port 99999").unwrap_err();
        assert!(e.contains("port"), "{e}");
    }

    #[test]
    fn instructions_read_from_their_text() {
        assert_eq!(parse_insn("40 0 0 12"), Some(Insn::new(40, 0, 0, 12)));
        assert_eq!(parse_insn("21 0 5 2048"), Some(Insn::new(21, 0, 5, 2048)));
        assert_eq!(
            parse_insn("6 0 0 262144"),
            Some(Insn::new(6, 0, 0, 262_144))
        );
        assert_eq!(parse_insn("6 0 0"), None);
        assert_eq!(parse_insn("6 0 0 1 2"), None);
        assert_eq!(parse_insn("x 0 0 1"), None);
    }
}
