//! Property tests of the MAC table: random sequences of learning, forwarding and aging are
//! run against the table and against a plain map that states the rules, and both must agree
//! at every step; the table never holds more than its capacity.

use proptest::prelude::*;
use std::collections::HashMap;
use vrouter::state::mac_table::REFRESH_MS;
use vrouter::state::{Learn, MacTable, Millis};
use vrouter::tables::{Dest, MacTableConf, NetIdx, Snapshot};
use vrouter::Mac;

/// Seconds an entry lives without a frame from its address.
const AGING_SECS: u32 = 10;
/// The static entry every table starts with (the router's MAC on network 1).
const STATIC: (NetIdx, Mac, Dest) = (1, Mac([0xfa, 0x16, 0x3e, 0, 0, 1]), Dest::Local);

#[derive(Clone, Debug)]
enum Op {
    /// A frame from `mac` on `net` arrived from `from`, `after` ms after the previous op.
    Learn {
        net: NetIdx,
        mac: Mac,
        from: Dest,
        after: Millis,
    },
    /// A frame of `bytes` for `mac` on `net`.
    Forward { net: NetIdx, mac: Mac, bytes: usize },
    /// The aging timer, `after` ms after the previous op.
    Expire { after: Millis },
}

/// A few networks, addresses (the static one among them) and places, so that ops meet.
fn op() -> impl Strategy<Value = Op> {
    let net = 1..=2 as NetIdx;
    let mac = (0..6u8).prop_map(|i| Mac([0xfa, 0x16, 0x3e, 0, 0, i]));
    let dest = prop_oneof![
        (0..3u16).prop_map(Dest::Port),
        (31..33u32).prop_map(Dest::Peer),
    ];
    let after = 0..4_000 as Millis;
    prop_oneof![
        4 => (net.clone(), mac.clone(), dest, after.clone())
            .prop_map(|(net, mac, from, after)| Op::Learn { net, mac, from, after }),
        2 => (net, mac, 60..1_500usize).prop_map(|(net, mac, bytes)| Op::Forward { net, mac, bytes }),
        1 => after.prop_map(|after| Op::Expire { after }),
    ]
}

/// What an entry of the model holds.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Entry {
    dest: Dest,
    is_static: bool,
    last_seen: Millis,
    packets: u64,
    bytes: u64,
}

/// The rules, stated plainly: learn unless full, static entries never move nor age, an
/// entry ages out `AGING_SECS` after its address was last seen, which a frame from the same
/// place records again only once `REFRESH_MS` have passed.
struct Model {
    capacity: usize,
    entries: HashMap<(NetIdx, Mac), Entry>,
}

impl Model {
    fn learn(&mut self, net: NetIdx, mac: Mac, from: Dest, now: Millis) -> Learn {
        let full = self.entries.len() >= self.capacity;
        match self.entries.get_mut(&(net, mac)) {
            Some(e) if e.is_static && e.dest == from => Learn::Static,
            Some(e) if e.is_static => Learn::Conflict,
            Some(e) if e.dest == from => {
                if now - e.last_seen >= REFRESH_MS {
                    e.last_seen = now;
                }
                Learn::Refreshed
            }
            Some(e) => {
                e.last_seen = now;
                e.dest = from;
                Learn::Moved
            }
            None if full => Learn::Full,
            None => {
                let e = Entry {
                    dest: from,
                    is_static: false,
                    last_seen: now,
                    packets: 0,
                    bytes: 0,
                };
                self.entries.insert((net, mac), e);
                Learn::New
            }
        }
    }

    fn forward(&mut self, net: NetIdx, mac: Mac, bytes: usize) -> Option<Dest> {
        let e = self.entries.get_mut(&(net, mac))?;
        e.packets += 1;
        e.bytes += bytes as u64;
        Some(e.dest)
    }

    fn expire(&mut self, now: Millis) -> usize {
        let before = self.entries.len();
        let max_age = Millis::from(AGING_SECS) * 1000;
        self.entries
            .retain(|_, e| e.is_static || now - e.last_seen < max_age);
        before - self.entries.len()
    }
}

/// A table of `capacity` learned entries holding the static entry, and its model.
fn table(capacity: usize, now: Millis) -> (MacTable, Model) {
    let conf = MacTableConf {
        capacity,
        aging_secs: AGING_SECS,
    };
    let snap = Snapshot {
        static_macs: vec![STATIC],
        mac: conf,
        ..Snapshot::default()
    };
    let mut t = MacTable::new(conf);
    t.apply(&snap, now);
    let mut m = Model {
        capacity,
        entries: HashMap::new(),
    };
    let e = Entry {
        dest: STATIC.2,
        is_static: true,
        last_seen: now,
        packets: 0,
        bytes: 0,
    };
    m.entries.insert((STATIC.0, STATIC.1), e);
    (t, m)
}

proptest! {
    #[test]
    fn mac_table_agrees_with_its_model_and_stays_within_capacity(
        capacity in 1..6usize,
        ops in prop::collection::vec(op(), 1..120),
    ) {
        let mut now: Millis = 1_000;
        let (mut t, mut m) = table(capacity, now);
        let (mut learned, mut moved, mut full, mut aged) = (0, 0, 0, 0);
        for op in ops {
            match op {
                Op::Learn { net, mac, from, after } => {
                    now += after;
                    let got = t.learn(net, mac, from, now);
                    prop_assert_eq!(got, m.learn(net, mac, from, now), "{:?}", op);
                    learned += u64::from(got == Learn::New);
                    moved += u64::from(got == Learn::Moved);
                    full += u64::from(got == Learn::Full);
                }
                Op::Forward { net, mac, bytes } => {
                    prop_assert_eq!(t.forward(net, mac, bytes), m.forward(net, mac, bytes));
                }
                Op::Expire { after } => {
                    now += after;
                    let n = t.expire(now);
                    prop_assert_eq!(n, m.expire(now));
                    aged += n as u64;
                }
            }
            prop_assert!(t.len() <= capacity, "{} entries", t.len());
            let mut entries: Vec<_> = t
                .iter()
                .map(|(net, mac, e)| {
                    let entry = Entry {
                        dest: e.dest,
                        is_static: e.is_static,
                        last_seen: e.last_seen,
                        packets: e.n_packets,
                        bytes: e.n_bytes,
                    };
                    ((net, mac), entry)
                })
                .collect();
            entries.sort_by_key(|&(k, _)| k);
            let mut expected: Vec<_> = m.entries.iter().map(|(&k, &e)| (k, e)).collect();
            expected.sort_by_key(|&(k, _)| k);
            prop_assert_eq!(entries, expected);
        }
        let s = t.stats;
        prop_assert_eq!((s.learned, s.moved, s.full, s.aged), (learned, moved, full, aged));
    }
}
