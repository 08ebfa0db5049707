//! Packet capture (`vrouterctl capture`): the sessions workers copy frames for, the
//! filters they run (tcpdump syntax compiled by libpcap, run by a classic BPF
//! interpreter) and the pcapng files the client writes.

pub mod bpf;
pub mod filter;
pub mod pcapng;
mod session;

pub use session::{Copied, Selection, Session, Taps, Totals};
