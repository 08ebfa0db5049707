//! Connection tracking tests: keys, limits, early drop, expiry, and TCP as Linux tracks it
//! (RST, reopening a closed tuple, picking up mid-stream connections).

use super::*;
use tcp_flags::*;

fn key(src: u32, sport: u16, dst: u32, dport: u16) -> FlowKey {
    FlowKey {
        zone: 0,
        proto: 17,
        src,
        dst,
        sport,
        dport,
    }
}

fn tcp_key(sport: u16) -> FlowKey {
    FlowKey {
        proto: 6,
        ..key(1, sport, 2, 22)
    }
}

fn seg(seq: u32, ack: u32, len: u32, flags: u8) -> Segment {
    Segment {
        seq,
        ack,
        win: 65535,
        len,
        flags,
        wscale: None,
    }
}

/// A UDP session of `zone` from `src`, first packet counted.
fn udp_in(ct: &mut Conntrack, zone: u16, src: u32) -> Result<u32, CtError> {
    let k = FlowKey {
        zone,
        ..key(src, 1, 9, 9)
    };
    let i = ct.create(k, k, 0)?;
    ct.seen(i, Dir::Orig, 60, 0, 0);
    Ok(i)
}

/// A TCP session opened by a SYN (seq 100), as the security group stage opens one.
fn syn_sent(ct: &mut Conntrack, sport: u16) -> u32 {
    let k = tcp_key(sport);
    let i = ct.create(k, k, 0).unwrap();
    ct.seen(i, Dir::Orig, 60, SYN, 0);
    assert!(ct
        .get_mut(i)
        .unwrap()
        .tcp_in_window(Dir::Orig, &seg(100, 0, 0, SYN)));
    i
}

/// Checks a segment, and counts it when valid, as the security group stage does.
fn pass(ct: &mut Conntrack, i: u32, dir: Dir, s: Segment) -> TcpVerdict {
    let v = ct.get_mut(i).unwrap().tcp_check(dir, &s);
    if v == TcpVerdict::Valid {
        ct.seen(i, dir, 60, s.flags, 1);
    }
    v
}

/// A TCP session through its handshake: client seq 101 on, server seq 5001 on.
fn established(ct: &mut Conntrack, sport: u16) -> u32 {
    let i = syn_sent(ct, sport);
    assert_eq!(
        pass(ct, i, Dir::Reply, seg(5000, 101, 0, SYN | ACK)),
        TcpVerdict::Valid
    );
    assert_eq!(
        pass(ct, i, Dir::Orig, seg(101, 5001, 0, ACK)),
        TcpVerdict::Valid
    );
    assert_eq!(ct.get(i).unwrap().tcp, TcpState::Established);
    i
}

#[test]
fn both_directions_find_the_session() {
    let mut ct = Conntrack::new(4);
    let o = key(10, 1000, 99, 53);
    let t = key(80, 2000, 99, 53);
    let i = ct.create(o, t, 0).unwrap();
    assert_eq!(ct.lookup(&o), Some((i, Dir::Orig)));
    assert_eq!(ct.lookup(&key(99, 53, 80, 2000)), Some((i, Dir::Reply)));
    assert!(ct.get_mut(i).unwrap().is_nat());
    assert_eq!(ct.create(key(11, 1, 99, 53), t, 0), Err(CtError::Collision));
    assert_eq!(ct.len(), 1);
}

#[test]
fn a_full_table_of_assured_sessions_refuses_and_counts() {
    let mut ct = Conntrack::new(1);
    let i = udp_in(&mut ct, 0, 1).unwrap();
    ct.seen(i, Dir::Reply, 60, 0, 0);
    assert!(ct.get(i).unwrap().assured);
    assert_eq!(udp_in(&mut ct, 0, 2), Err(CtError::Full));
    assert_eq!(ct.stats.full, 1);
    assert_eq!(ct.stats.early_dropped, 0);
}

#[test]
fn a_full_table_drops_the_oldest_unanswered_session_first() {
    let mut ct = Conntrack::new(3);
    let a = udp_in(&mut ct, 0, 1).unwrap();
    let b = udp_in(&mut ct, 0, 2).unwrap();
    let c = udp_in(&mut ct, 0, 3).unwrap();
    ct.seen(a, Dir::Reply, 60, 0, 0);
    // a is answered; b is the oldest unanswered one, then c.
    let d = udp_in(&mut ct, 0, 4).unwrap();
    assert!(ct.get(b).is_none() || d == b, "b made room");
    assert!(ct.lookup(&key(2, 1, 9, 9)).is_none());
    assert!(
        ct.lookup(&key(1, 1, 9, 9)).is_some(),
        "answered: never dropped"
    );
    udp_in(&mut ct, 0, 5).unwrap();
    assert!(ct.lookup(&key(3, 1, 9, 9)).is_none(), "then c");
    assert_eq!(ct.stats.early_dropped, 2);
    assert_eq!(ct.len(), 3);
    let _ = c;
}

#[test]
fn a_tcp_session_is_early_droppable_until_its_handshake_completes() {
    let mut ct = Conntrack::new(2);
    let half_open = syn_sent(&mut ct, 1000);
    // A SYN/ACK answered it (a flood at an open port), the final ACK never came.
    pass(&mut ct, half_open, Dir::Reply, seg(5000, 101, 0, SYN | ACK));
    assert!(ct.get(half_open).unwrap().replied);
    assert!(!ct.get(half_open).unwrap().assured);
    let done = established(&mut ct, 1001);
    assert!(ct.get(done).unwrap().assured);
    let k = tcp_key(1002);
    ct.create(k, k, 0).expect("the half-open session made room");
    assert!(ct.lookup(&tcp_key(1000)).is_none());
    assert!(ct.lookup(&tcp_key(1001)).is_some());
    for port in 1003..1010 {
        let k = tcp_key(port);
        ct.create(k, k, 0).expect("the unanswered one made room");
    }
    assert!(
        ct.lookup(&tcp_key(1001)).is_some(),
        "never the established one"
    );
    assert_eq!(ct.stats.early_dropped, 8);
}

#[test]
fn a_zone_at_its_limit_gives_up_its_own_unanswered_sessions_or_is_refused() {
    let mut ct = Conntrack::with_limits(8, 2);
    let a = udp_in(&mut ct, 7, 1).unwrap();
    udp_in(&mut ct, 7, 2).unwrap();
    udp_in(&mut ct, 3, 3).unwrap();
    assert_eq!(ct.zone_len(7), 2);
    // Zone 7 is at its limit: its oldest unanswered session goes, zone 3's stays.
    udp_in(&mut ct, 7, 4).unwrap();
    assert_eq!(ct.zone_len(7), 2);
    assert!(ct.get(a).is_none() || ct.get(a).unwrap().orig.src == 4);
    assert_eq!(ct.zone_len(3), 1);
    // Answered sessions are kept: the zone refuses.
    let ids: Vec<u32> = ct
        .iter()
        .filter(|(_, s)| s.orig.zone == 7)
        .map(|(i, _)| i)
        .collect();
    for i in ids {
        ct.seen(i, Dir::Reply, 60, 0, 0);
    }
    assert_eq!(udp_in(&mut ct, 7, 5), Err(CtError::ZoneFull));
    assert_eq!(ct.stats.zone_full, 1);
    assert!(udp_in(&mut ct, 3, 6).is_ok(), "another zone is not limited");
}

/// Undoes what the packet being processed created, as the dispatcher does for a drop.
fn undo_packet(ct: &mut Conntrack) {
    let fresh: Vec<_> = ct.fresh().collect();
    ct.undo(&fresh);
}

#[test]
fn sessions_of_a_dropped_packet_are_undone() {
    let mut ct = Conntrack::new(8);
    ct.begin_packet();
    udp_in(&mut ct, 0, 1).unwrap();
    udp_in(&mut ct, 1, 1).unwrap();
    undo_packet(&mut ct);
    assert!(ct.is_empty());
    assert_eq!(ct.stats.undone, 2);
    ct.begin_packet();
    udp_in(&mut ct, 0, 2).unwrap();
    ct.begin_packet();
    undo_packet(&mut ct);
    assert_eq!(ct.len(), 1, "an earlier packet's session stays");
    // A packet's session that is already gone (reused slot) is not removed twice.
    ct.begin_packet();
    let i = udp_in(&mut ct, 0, 3).unwrap();
    ct.remove(i);
    let j = udp_in(&mut ct, 0, 4).unwrap();
    assert_eq!(i, j, "slot reused");
    undo_packet(&mut ct);
    assert_eq!(ct.len(), 1);
}

#[test]
fn expiry_is_incremental_and_frees_slots() {
    let mut ct = Conntrack::new(8);
    for i in 0..4 {
        udp_in(&mut ct, 0, i).unwrap();
    }
    assert_eq!(ct.expire(29_999, 8), 0);
    assert_eq!(ct.expire(30_000, 2), 2, "budget bounds the work");
    assert_eq!(ct.expire(30_000, 8), 2);
    assert!(ct.is_empty());
    assert_eq!(ct.zone_len(0), 0);
    let i = udp_in(&mut ct, 0, 7).unwrap();
    assert!(i < 4, "a freed slot is reused");
}

#[test]
fn tcp_window_accepts_a_conversation_and_rejects_far_segments() {
    let mut ct = Conntrack::new(2);
    let i = established(&mut ct, 1000);
    let s = ct.get_mut(i).unwrap();
    assert!(s.tcp_in_window(Dir::Orig, &seg(101, 5001, 500, ACK)));
    assert!(s.tcp_in_window(Dir::Reply, &seg(5001, 601, 100, ACK)));
    // Data far beyond what the receiver allowed, and an ack of unsent data.
    assert!(!s.tcp_in_window(Dir::Orig, &seg(601 + 200_000, 5101, 10, ACK)));
    assert!(!s.tcp_in_window(Dir::Orig, &seg(601, 900_000, 0, ACK)));
    // A retransmission within the window is fine.
    assert!(s.tcp_in_window(Dir::Orig, &seg(101, 5101, 500, ACK)));
}

#[test]
fn rst_ack_answering_a_syn_is_valid_and_ends_the_session() {
    let mut ct = Conntrack::new(4);
    let i = syn_sent(&mut ct, 1000);
    // Not acknowledging the SYN: INVALID (RFC 9293 §3.5.2, Linux).
    assert_eq!(
        pass(&mut ct, i, Dir::Reply, seg(0, 7777, 0, RST | ACK)),
        TcpVerdict::Invalid
    );
    assert_eq!(
        pass(&mut ct, i, Dir::Reply, seg(0, 101, 0, RST | ACK)),
        TcpVerdict::Valid
    );
    // Linux: a connection whose only answer is an RST is removed at once.
    assert!(ct.is_empty());
    assert_eq!(ct.stats.removed, 1);
}

#[test]
fn in_window_rst_closes_an_established_session_for_10_s() {
    let mut ct = Conntrack::new(4);
    let i = established(&mut ct, 1000);
    assert_eq!(
        pass(&mut ct, i, Dir::Reply, seg(900_000_000, 0, 0, RST)),
        TcpVerdict::Invalid,
        "far out of window"
    );
    assert_eq!(
        pass(&mut ct, i, Dir::Reply, seg(5001, 0, 0, RST)),
        TcpVerdict::Valid
    );
    let s = ct.get(i).unwrap();
    assert_eq!((s.tcp, s.timeout()), (TcpState::Closed, 10_000));
}

#[test]
fn fins_both_ways_lead_to_time_wait_and_a_syn_reopens() {
    let mut ct = Conntrack::new(4);
    let i = established(&mut ct, 1000);
    // The server closes first.
    pass(&mut ct, i, Dir::Reply, seg(5001, 101, 0, FIN | ACK));
    assert_eq!(ct.get(i).unwrap().tcp, TcpState::FinWait);
    pass(&mut ct, i, Dir::Orig, seg(101, 5002, 0, FIN | ACK));
    pass(&mut ct, i, Dir::Reply, seg(5002, 102, 0, ACK));
    let s = ct.get(i).unwrap();
    assert_eq!((s.tcp, s.timeout()), (TcpState::TimeWait, 120_000));
    // The client reuses its port: a new initial sequence number, a NEW connection.
    assert_eq!(
        ct.get_mut(i)
            .unwrap()
            .tcp_check(Dir::Orig, &seg(90_000, 0, 0, SYN)),
        TcpVerdict::Reopen
    );
    // After an RST as well.
    let j = established(&mut ct, 1001);
    pass(&mut ct, j, Dir::Orig, seg(101, 5001, 0, RST));
    assert_eq!(
        ct.get_mut(j)
            .unwrap()
            .tcp_check(Dir::Orig, &seg(7, 0, 0, SYN)),
        TcpVerdict::Reopen
    );
    ct.reopen(j);
    assert_eq!(ct.stats.reopened, 1);
    assert!(ct.lookup(&tcp_key(1001)).is_none());
}

#[test]
fn a_syn_on_an_open_session_passes_and_its_syn_ack_resynchronises() {
    let mut ct = Conntrack::new(4);
    let i = established(&mut ct, 1000);
    pass(&mut ct, i, Dir::Orig, seg(101, 5001, 0, FIN | ACK));
    // The tracker missed the end: both hosts start over with new sequence numbers.
    assert_eq!(
        pass(&mut ct, i, Dir::Orig, seg(70_000, 0, 0, SYN)),
        TcpVerdict::Valid
    );
    assert_eq!(ct.get(i).unwrap().tcp, TcpState::FinWait, "ignored");
    assert_eq!(
        pass(&mut ct, i, Dir::Reply, seg(3_000_000, 70_001, 0, SYN | ACK)),
        TcpVerdict::Valid
    );
    assert_eq!(ct.get(i).unwrap().tcp, TcpState::SynRecv);
    assert_eq!(
        pass(&mut ct, i, Dir::Orig, seg(70_001, 3_000_001, 100, ACK)),
        TcpVerdict::Valid
    );
    assert_eq!(ct.get(i).unwrap().tcp, TcpState::Established);
    assert_eq!(
        pass(&mut ct, i, Dir::Orig, seg(101, 5001, 10, ACK)),
        TcpVerdict::Invalid,
        "the old connection's sequence numbers are gone"
    );
}

#[test]
fn a_router_session_restarts_its_tcp_state_on_a_new_syn() {
    // The router tracks states without windows: touch alone.
    let mut ct = Conntrack::new(4);
    let k = tcp_key(1000);
    let i = ct.create(k, k, 0).unwrap();
    for (dir, flags) in [
        (Dir::Orig, SYN),
        (Dir::Reply, SYN | ACK),
        (Dir::Orig, ACK),
        (Dir::Reply, FIN | ACK),
        (Dir::Orig, FIN | ACK),
    ] {
        ct.seen(i, dir, 60, flags, 0);
    }
    assert_eq!(ct.get(i).unwrap().tcp, TcpState::TimeWait);
    assert!(ct.get(i).unwrap().assured);
    ct.seen(i, Dir::Orig, 60, SYN, 5);
    let s = ct.get(i).unwrap();
    assert_eq!((s.tcp, s.assured), (TcpState::SynSent, false));
    assert_eq!(ct.stats.reopened, 1);
    // Early-droppable again until the new handshake completes.
    let mut small = Conntrack::new(1);
    let j = small.create(k, k, 0).unwrap();
    for (dir, flags) in [(Dir::Orig, SYN), (Dir::Reply, SYN | ACK), (Dir::Orig, ACK)] {
        small.seen(j, dir, 60, flags, 0);
    }
    small.seen(j, Dir::Orig, 60, RST, 0);
    small.seen(j, Dir::Orig, 60, SYN, 0);
    assert!(small.create(tcp_key(2), tcp_key(2), 0).is_ok());
}

#[test]
fn mid_stream_tcp_is_picked_up_liberally_but_rst_and_fin_start_nothing() {
    assert!(tcp_may_start(SYN));
    assert!(tcp_may_start(ACK | PSH));
    assert!(!tcp_may_start(RST));
    assert!(!tcp_may_start(RST | ACK));
    assert!(!tcp_may_start(FIN | ACK));
    assert!(!tcp_may_start(SYN | ACK));
    let mut ct = Conntrack::new(4);
    let k = tcp_key(1000);
    let i = ct.create(k, k, 0).unwrap();
    ct.seen(i, Dir::Orig, 1000, ACK | PSH, 0);
    let s = ct.get_mut(i).unwrap();
    assert_eq!((s.tcp, s.liberal), (TcpState::Established, true));
    assert!(s.tcp_in_window(Dir::Reply, &seg(12345, 999_999, 0, ACK)));
    assert!(s.tcp_in_window(Dir::Orig, &seg(4_000_000_000, 1, 100, ACK)));
    assert_eq!(ct.stats.picked_up, 1);
    assert!(!ct.get(i).unwrap().assured, "not answered yet");
    ct.seen(i, Dir::Reply, 60, ACK, 1);
    assert!(ct.get(i).unwrap().assured);
}

#[test]
fn a_retransmitted_syn_with_a_new_sequence_restarts_the_window() {
    let mut ct = Conntrack::new(2);
    let i = syn_sent(&mut ct, 1000);
    assert_eq!(
        pass(&mut ct, i, Dir::Orig, seg(800_000, 0, 0, SYN)),
        TcpVerdict::Valid
    );
    assert_eq!(
        pass(&mut ct, i, Dir::Reply, seg(5000, 800_001, 0, SYN | ACK)),
        TcpVerdict::Valid
    );
}

#[test]
fn handshake_and_close_drive_timeouts() {
    let mut ct = Conntrack::new(2);
    let i = syn_sent(&mut ct, 1000);
    assert_eq!(ct.get(i).unwrap().timeout(), 120_000);
    pass(&mut ct, i, Dir::Reply, seg(5000, 101, 0, SYN | ACK));
    assert_eq!(ct.get(i).unwrap().timeout(), 60_000);
    pass(&mut ct, i, Dir::Orig, seg(101, 5001, 0, ACK));
    assert_eq!(ct.get(i).unwrap().timeout(), 86_400_000);
    assert_eq!(ct.get(i).unwrap().packets, [2, 1]);
}

#[test]
fn a_zone_at_its_limit_evicts_its_own_behind_many_of_other_zones() {
    let mut ct = Conntrack::with_limits(1000, 40);
    // Other zones' unanswered sessions are the oldest in the table, far more than a few.
    for n in 0..300u32 {
        udp_in(&mut ct, 10 + (n % 10) as u16, n).unwrap();
    }
    for n in 0..40u32 {
        udp_in(&mut ct, 7, 1000 + n).unwrap();
    }
    assert_eq!(ct.zone_len(7), 40);
    for n in 0..100u32 {
        udp_in(&mut ct, 7, 2000 + n).expect("zone 7 evicts its own oldest");
    }
    assert_eq!(ct.zone_len(7), 40);
    assert_eq!(ct.stats.zone_full, 0);
    assert_eq!(ct.stats.early_dropped, 100);
    assert!(ct
        .lookup(&FlowKey {
            zone: 7,
            ..key(1059, 1, 9, 9)
        })
        .is_none());
    assert!(ct
        .lookup(&FlowKey {
            zone: 7,
            ..key(2060, 1, 9, 9)
        })
        .is_some());
    assert_eq!(ct.len(), 340, "no other zone's session went");
}

#[test]
fn a_full_table_takes_from_the_zone_with_most_unanswered_sessions() {
    let mut ct = Conntrack::with_limits(10, 8);
    // Zone 2's pending session is the oldest, zone 1 holds most.
    let pending = udp_in(&mut ct, 2, 100).unwrap();
    for n in 0..8u32 {
        udp_in(&mut ct, 1, n).unwrap();
    }
    let b = udp_in(&mut ct, 3, 200).unwrap();
    ct.seen(b, Dir::Reply, 60, 0, 0);
    udp_in(&mut ct, 3, 201).expect("a full table makes room");
    assert_eq!(ct.get(pending).map(|s| s.orig.src), Some(100));
    assert_eq!(ct.zone_len(1), 7, "zone 1's oldest went");
    assert!(ct
        .lookup(&FlowKey {
            zone: 1,
            ..key(0, 1, 9, 9)
        })
        .is_none());
    assert_eq!(ct.stats.early_dropped, 1);
}

/// What a table growing would change: each table's allocation and capacity.
fn footprint(ct: &Conntrack) -> [usize; 6] {
    [
        ct.index.allocation_size(),
        ct.sessions.capacity(),
        ct.sessions.as_ptr() as usize,
        ct.links.capacity(),
        ct.links.as_ptr() as usize,
        ct.free.capacity(),
    ]
}

#[test]
fn creating_and_churning_sessions_at_capacity_grows_no_table() {
    let cap = 50_000u32;
    let mut ct = Conntrack::new(cap as usize);
    assert!(
        ct.index.allocation_size() >= crate::state::huge_pages::HUGE_PAGE,
        "a key index of its own mapping"
    );
    let allocated = footprint(&ct);
    // Fill, then twice as many again: each takes the slot of the oldest (early drop); the
    // worker's timer runs every so many sessions and keeps room for a full table.
    for src in 0..3 * cap {
        udp_in(&mut ct, 0, src).unwrap();
        if src % (cap / 8) == 0 {
            ct.expire(0, 1);
            assert!(
                ct.index.entries() >= 2 * cap as usize,
                "room for a full table"
            );
        }
    }
    assert_eq!(ct.len(), cap as usize);
    assert_eq!(ct.stats.early_dropped, 2 * u64::from(cap));
    assert_eq!(ct.expire(30_000, cap as usize), cap as usize);
    for src in 3 * cap..4 * cap {
        udp_in(&mut ct, 0, src).unwrap();
    }
    assert_eq!(ct.len(), cap as usize);
    assert_eq!(footprint(&ct), allocated);
    // A larger capacity is allocated when it is set, not by the sessions that use it.
    ct.set_limits(2 * cap as usize, 2 * cap as usize);
    let raised = footprint(&ct);
    assert!(raised[1] >= 2 * cap as usize && raised[3] >= 2 * cap as usize);
    for src in 4 * cap..5 * cap {
        udp_in(&mut ct, 0, src).unwrap();
    }
    assert_eq!(ct.len(), 2 * cap as usize);
    assert_eq!(footprint(&ct), raised);
}

#[test]
fn raising_the_capacity_keeps_every_live_session_found_both_ways() {
    let mut ct = Conntrack::new(1000);
    let nat = |src: u32| FlowKey {
        src: 77,
        sport: 2000 + src as u16,
        ..key(src, 1, 9, 9)
    };
    let ids: Vec<u32> = (0..1000)
        .map(|src| ct.create(key(src, 1, 9, 9), nat(src), 0).unwrap())
        .collect();
    let before = ct.index.entries();
    ct.set_limits(5000, 5000);
    assert!(
        ct.index.entries() > before,
        "a larger index for the capacity"
    );
    for (src, &idx) in (0..1000).zip(&ids) {
        assert_eq!(ct.lookup(&key(src, 1, 9, 9)), Some((idx, Dir::Orig)));
        assert_eq!(ct.lookup(&nat(src).reverse()), Some((idx, Dir::Reply)));
    }
    // The removed key is gone from the new index too, and the rest can fill it.
    ct.remove(ids[0]);
    assert_eq!(ct.lookup(&key(0, 1, 9, 9)), None);
    for src in 1000..5001 {
        udp_in(&mut ct, 0, src).unwrap();
    }
    assert_eq!(ct.len(), 5000);
}
