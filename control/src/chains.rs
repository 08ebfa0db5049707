//! A filtered port's compiled security groups rendered as the iptables chains the
//! firewall driver installed on a compute node (`iptables -S` lines), so that operators
//! read them as before: `neutron-openvswi-i…` into the VM, `-o…` out of it, `-s…` the
//! source check.

use crate::naming::{sg_chain, Chain};
use std::net::Ipv4Addr;
use vrouter::tables::acl::{AclRule, PortAcl, Remote};

/// One line of a chain, with the hits of the rule it stands for (rules of the groups only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// The `-A CHAIN …` text.
    pub rule: String,
    /// Neutron rule id, for lines that are security group rules.
    pub id: Option<String>,
    /// (packets, bytes) of the first packets of the connections the rule allowed.
    pub hits: Option<(u64, u64)>,
}

/// The three chains of `acl`, each as (name, lines); `hits` holds the counters of the
/// ingress rules, then of the egress rules.
pub fn render(acl: &PortAcl, hits: &vrouter::pipeline::RuleHits) -> Vec<(String, Vec<Line>)> {
    let (i, o, s) = (
        sg_chain(Chain::Ingress, &acl.port_id),
        sg_chain(Chain::Egress, &acl.port_id),
        sg_chain(Chain::Source, &acl.port_id),
    );
    let fixed = |chain: &str, text: &str| Line {
        rule: format!("-A {chain} {text}"),
        id: None,
        hits: None,
    };
    let mut ingress = vec![
        fixed(&i, "-m state --state INVALID -j DROP"),
        fixed(&i, "-m state --state RELATED,ESTABLISHED -j RETURN"),
    ];
    for d in &acl.dhcp_servers {
        let text = format!(
            "-s {}/32 -p udp -m udp --sport 67 --dport 68 -j RETURN",
            Ipv4Addr::from(*d)
        );
        ingress.push(fixed(&i, &text));
    }
    ingress.extend(rules(&i, &acl.ingress, &hits.0, "-s"));
    ingress.push(fixed(&i, "-j neutron-openvswi-sg-fallback"));
    let mut egress = vec![
        fixed(&o, "-p udp -m udp --sport 68 --dport 67 -j RETURN"),
        fixed(&o, &format!("-j {s}")),
        fixed(&o, "-p udp -m udp --sport 67 --dport 68 -j DROP"),
        fixed(&o, "-m state --state INVALID -j DROP"),
        fixed(&o, "-m state --state RELATED,ESTABLISHED -j RETURN"),
    ];
    egress.extend(rules(&o, &acl.egress, &hits.1, "-d"));
    egress.push(fixed(&o, "-j neutron-openvswi-sg-fallback"));
    let mut source: Vec<Line> = acl
        .sources
        .iter()
        .map(|a| {
            let text = format!(
                "-s {}/{} -m mac --mac-source {} -j RETURN",
                Ipv4Addr::from(a.prefix),
                a.len,
                a.mac.to_string().to_uppercase()
            );
            fixed(&s, &text)
        })
        .collect();
    source.push(fixed(&s, "-j DROP"));
    vec![(i, ingress), (o, egress), (s, source)]
}

/// The `-j RETURN` lines of the group rules; `remote_flag` is `-s` into the VM, `-d` out.
fn rules<'a>(
    chain: &'a str,
    rules: &'a [AclRule],
    hits: &'a [(u64, u64)],
    remote_flag: &'a str,
) -> impl Iterator<Item = Line> + 'a {
    rules.iter().enumerate().map(move |(n, r)| {
        let mut text = format!("-A {chain}");
        match &r.remote {
            Remote::Any => {}
            Remote::Prefix(p, len) => {
                text += &format!(" {remote_flag} {}/{len}", Ipv4Addr::from(*p))
            }
            Remote::Members(_) => {
                let dir = if remote_flag == "-s" { "src" } else { "dst" };
                text += &format!(
                    " -m set --match-set NIPv4{} {dir}",
                    &r.group[..r.group.len().min(13)]
                );
            }
        }
        match r.proto {
            Some(6) | Some(17) => {
                let p = if r.proto == Some(6) { "tcp" } else { "udp" };
                text += &format!(" -p {p} -m {p}");
                if r.ports.0 == r.ports.1 {
                    text += &format!(" --dport {}", r.ports.0);
                } else {
                    text += &format!(" -m multiport --dports {}:{}", r.ports.0, r.ports.1);
                }
            }
            Some(1) if r.ports == (0, 255) => text += " -p icmp",
            Some(1) => {
                text += &format!(" -p icmp -m icmp --icmp-type {}", r.ports.0);
                if let Some(c) = r.icmp_code {
                    text += &format!("/{c}");
                }
            }
            Some(p) => text += &format!(" -p {p}"),
            None => {}
        }
        text += " -j RETURN";
        Line {
            rule: text,
            id: Some(r.id.clone()),
            hits: Some(hits.get(n).copied().unwrap_or_default()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vrouter::tables::acl::AllowedSource;
    use vrouter::Mac;

    #[test]
    fn chains_carry_the_seed_names_and_rules() {
        let acl = PortAcl {
            port_id: "1653ec91-ad7d-40d9-b777-f74aec697026".into(),
            sources: vec![AllowedSource {
                prefix: 0x0a00_0009,
                len: 32,
                mac: Mac([0xfa, 0x16, 0x3e, 0x51, 0xa2, 0x97]),
            }],
            dhcp_servers: vec![0x0a00_0003],
            ingress: vec![AclRule {
                id: "r22".into(),
                group: "8bd8fb6b-7141-4900-8321-390cc1a5d999".into(),
                proto: Some(6),
                ports: (22, 22),
                icmp_code: None,
                remote: Remote::Any,
            }],
            egress: vec![],
        };
        let chains = render(&acl, &(vec![(3, 180)], vec![]));
        let names: Vec<&str> = chains.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "neutron-openvswi-i1653ec91-a",
                "neutron-openvswi-o1653ec91-a",
                "neutron-openvswi-s1653ec91-a"
            ]
        );
        let ssh = &chains[0].1[3];
        assert_eq!(
            ssh.rule,
            "-A neutron-openvswi-i1653ec91-a -p tcp -m tcp --dport 22 -j RETURN"
        );
        assert_eq!(ssh.hits, Some((3, 180)));
        assert_eq!(
            chains[0].1[2].rule,
            "-A neutron-openvswi-i1653ec91-a -s 10.0.0.3/32 -p udp -m udp --sport 67 --dport 68 -j RETURN"
        );
        assert_eq!(
            chains[2].1[0].rule,
            "-A neutron-openvswi-s1653ec91-a -s 10.0.0.9/32 -m mac --mac-source FA:16:3E:51:A2:97 -j RETURN"
        );
    }
}
