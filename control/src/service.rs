//! The control service: the model behind a lock, its persistence and the data plane.
//!
//! A change is applied to a copy of the model, validated with the config file's rules,
//! published to the data plane and persisted, and only then becomes the model: a bad
//! request changes nothing. The lock is held only while a change is applied; reads and
//! views work on a shared copy of the model.

use crate::api::{parse_request, ApiError, Hello, Op, Reply, Request, Response};
use crate::api::{API_VERSION, DAEMON_VERSION};
use crate::credentials::PeerCred;
use crate::model::Topology;
use crate::plane::DataPlane;
use crate::store::{Store, StoreError};
use crate::validate::{lines, Problem, ValidationError};
use crate::{ops, views};
use std::sync::{Arc, Mutex, MutexGuard};

/// The model as persisted, and as it runs.
struct State {
    /// What is persisted: the model without this run's `--devargs`.
    base: Topology,
    /// What runs: `base` with the `--devargs` applied.
    live: Arc<Topology>,
}

/// Answers control requests.
pub struct Service {
    state: Mutex<State>,
    devargs: Vec<(String, String)>,
    store: Store,
    plane: Arc<dyn DataPlane>,
}

impl Service {
    /// A service for the model `base` as persisted in `store`, running on `plane` with
    /// this run's `devargs` (NAME, DEVARGS) applied on top. Local VLAN tags are pinned, so
    /// that they stay what they are whatever networks come and go, and the model is saved:
    /// from now on the store holds it.
    pub fn new(
        mut base: Topology,
        devargs: Vec<(String, String)>,
        store: Store,
        plane: Arc<dyn DataPlane>,
    ) -> Result<Service, StoreError> {
        base.origin = None;
        ops::pin_local_vlans(&mut base);
        store.save(&base)?;
        let live = Arc::new(overlay(&base, &devargs));
        Ok(Service {
            state: Mutex::new(State { base, live }),
            devargs,
            store,
            plane,
        })
    }

    /// The data plane the service runs on.
    pub fn plane(&self) -> &dyn DataPlane {
        &*self.plane
    }

    /// Answers one request line with one response line.
    pub fn handle_line(&self, line: &[u8]) -> Vec<u8> {
        self.handle_line_from(line, None)
    }

    /// Answers one request line from the client `peer` (its credentials, when known) with
    /// one response line. Every change is logged with who asked for it and how it ended
    /// (`audit: uid=0 pid=1234 op=network.create id=7 result=ok`, target `audit`).
    pub fn handle_line_from(&self, line: &[u8], peer: Option<PeerCred>) -> Vec<u8> {
        let response = match parse_request(line) {
            Ok(req) => {
                let result = req.check_version().and_then(|()| self.handle(&req.op));
                if req.op.mutates() {
                    audit(&req, peer, &result);
                }
                Response::reply(req.id, result)
            }
            Err((id, e)) => Response::new(id, Err(e)),
        };
        response.to_line()
    }

    /// Carries out one operation.
    pub fn handle(&self, op: &Op) -> Result<Reply, ApiError> {
        match op {
            Op::Hello(_) => Ok(Reply::Hello(Hello {
                api_version: API_VERSION,
                daemon_version: DAEMON_VERSION.to_owned(),
            })),
            Op::Show(_) => Ok(Reply::Text(views::show(&self.live()))),
            Op::Netns(_) => Ok(Reply::Namespaces(views::netns(&self.live()))),
            Op::DumpFlows(_) => Ok(Reply::Flows(views::dump_flows(
                &self.live(),
                &self.plane.dump()?,
            ))),
            Op::Stats(_) => Ok(Reply::Stats(views::stats(&self.plane.dump()?))),
            Op::SecurityGroupChains(_) => Ok(Reply::Chains(views::chains(&self.plane.dump()?))),
            Op::Capture(_) => Err(ApiError::bad_request(
                "capture streams frames: send it as a request of its own on the control socket",
            )),
            Op::ConntrackList(a) => {
                let sessions = ops::conntrack::list(&self.live(), &self.plane.dump()?, a)?;
                Ok(Reply::Sessions(sessions))
            }
            Op::ConntrackFlush(a) => {
                let flushed = ops::conntrack::flush_sessions(&self.live(), &*self.plane, a)?;
                Ok(Reply::Flushed(flushed))
            }
            Op::NeighbourFlush(a) => {
                let flushed = ops::conntrack::flush_neighbours(&self.live(), &*self.plane, a)?;
                Ok(Reply::Flushed(flushed))
            }
            Op::TraceAdd(a) => ops::trace::add(&*self.plane, a).map(Reply::TraceStarted),
            Op::TraceShow(_) => ops::trace::show(&*self.plane).map(Reply::TraceSteps),
            op if op.mutates() => self.change(op),
            op => ops::read(&self.live(), op),
        }
    }

    /// The lock on the state; a panic elsewhere while it was held left it consistent,
    /// since the state is only replaced whole.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The model as it runs.
    fn live(&self) -> Arc<Topology> {
        Arc::clone(&self.lock().live)
    }

    /// Applies a change: all of it or, on any error, nothing.
    fn change(&self, op: &Op) -> Result<Reply, ApiError> {
        let mut st = self.lock();
        let mut next = st.base.clone();
        let result = ops::write(&mut next, op)?;
        next.validate().map_err(|e| rejected(&e))?;
        let live = overlay(&next, &self.devargs);
        live.validate().map_err(|e| rejected(&e))?;
        self.plane.publish(&live)?;
        if let Err(e) = self.store.save(&next) {
            // Best effort: the data plane goes back to the model that is still persisted.
            let _ = self.plane.publish(&st.live);
            return Err(ApiError::internal(format!("change not applied: {e}")));
        }
        st.base = next;
        st.live = Arc::new(live);
        Ok(result)
    }
}

/// Logs the audit line of a change: who asked (SO_PEERCRED), what, and how it ended.
fn audit(req: &Request, peer: Option<PeerCred>, result: &Result<Reply, ApiError>) {
    let (uid, pid) = match peer {
        Some(p) => (p.uid.to_string(), p.pid.to_string()),
        None => ("-".to_owned(), "-".to_owned()),
    };
    let outcome = match result {
        Ok(_) => "ok".to_owned(),
        Err(e) => e.code.to_string(),
    };
    log::info!(
        target: "audit",
        "audit: uid={uid} pid={pid} op={} id={} result={outcome}",
        req.op.name(),
        req.id
    );
}

/// `base` with `devargs` applied; those whose device is no longer in the model are
/// skipped (they apply again if it comes back).
fn overlay(base: &Topology, devargs: &[(String, String)]) -> Topology {
    let mut live = base.clone();
    for (name, args) in devargs {
        // An error means the port is gone: nothing to bind.
        let _ = live.set_devargs(name, args);
    }
    live
}

/// The error for a change the model's rules reject: a conflict when something is
/// already used (ids, addresses, tags, devices), else invalid.
fn rejected(errors: &[ValidationError]) -> ApiError {
    let text = lines(errors);
    if errors.iter().any(|e| e.problem == Problem::InUse) {
        ApiError::conflict(text)
    } else {
        ApiError::invalid(text)
    }
}
