//! What the pipeline benches share: a sink for what the pipeline sends, and the reference
//! topology compiled with some ports bound to (never opened) local devices.

use vrouter::pipeline::{Io, Node};
use vrouter::tables::{PortIdx, Snapshot};
use vrouter::VecFrame;

/// Frames per burst, as the worker receives them.
pub const BURST: usize = 32;

/// Collects what the pipeline sends.
pub struct Sink(pub Vec<(PortIdx, VecFrame)>);

impl Io<VecFrame> for Sink {
    fn send(&mut self, port: PortIdx, frame: VecFrame) {
        self.0.push((port, frame));
    }
    fn alloc(&mut self) -> Option<VecFrame> {
        Some(VecFrame::new(&[]))
    }
    fn handoff(&mut self, _: u16, _: PortIdx, _: VecFrame, _: Node) {
        unreachable!("a single worker hands nothing off");
    }
}

/// configs/tenant-a.toml with each `(device name, devargs)` bound locally, after `edit`
/// changed the model; devices are numbered eth1 = 0, eth2 = 1, then the bound ports in
/// file order.
pub fn reference(bind: &[(&str, &str)], edit: impl FnOnce(&mut control::Topology)) -> Snapshot {
    let mut topo = control::load_str(
        include_str!("../../configs/tenant-a.toml"),
        "configs/tenant-a.toml",
    )
    .expect("reference topology loads");
    for (name, devargs) in bind {
        topo.set_devargs(name, devargs).expect("port binds");
    }
    edit(&mut topo);
    let names: Vec<String> = topo.devices().into_iter().map(|(n, _)| n).collect();
    control::compile(&topo, &names, 1).expect("compiles")
}
