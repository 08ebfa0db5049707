//! The control service: the model behind a lock, its persistence and the data plane.
//!
//! A change is applied to a copy of the model, validated with the config file's rules,
//! published to the data plane and persisted, and only then becomes the model: a bad
//! request changes nothing. The lock is held only while a change is applied; reads and
//! views work on a shared copy of the model.

use crate::api::{parse_request, ApiError, Op, Response};
use crate::model::Topology;
use crate::plane::DataPlane;
use crate::store::{Store, StoreError};
use crate::validate::{lines, ValidationError};
use crate::{ops, views};
use serde_json::Value;
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

    /// Answers one request line with one response line.
    pub fn handle_line(&self, line: &[u8]) -> Vec<u8> {
        let response = match parse_request(line) {
            Ok(req) => Response::new(req.id, self.handle(&req.op)),
            Err((id, e)) => Response::new(id, Err(e)),
        };
        response.to_line()
    }

    /// Carries out one operation.
    pub fn handle(&self, op: &Op) -> Result<Value, ApiError> {
        match op {
            Op::Show(_) => Ok(views::show(&self.live())),
            Op::Netns(_) => Ok(views::netns(&self.live())),
            Op::DumpFlows(_) => Ok(views::dump_flows(&self.live(), &self.plane.dump()?)),
            Op::Stats(_) => Ok(views::stats(&self.plane.dump()?)),
            Op::SecurityGroupChains(_) => Ok(views::chains(&self.plane.dump()?)),
            Op::ConntrackList(a) => {
                let sessions = ops::conntrack::list(&self.live(), &self.plane.dump()?, a)?;
                Ok(serde_json::json!(sessions))
            }
            Op::ConntrackFlush(a) => {
                let flushed = ops::conntrack::flush_sessions(&self.live(), &*self.plane, a)?;
                Ok(serde_json::json!(flushed))
            }
            Op::NeighbourFlush(a) => {
                let flushed = ops::conntrack::flush_neighbours(&self.live(), &*self.plane, a)?;
                Ok(serde_json::json!(flushed))
            }
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
    fn change(&self, op: &Op) -> Result<Value, ApiError> {
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
    if errors.iter().any(|e| e.message.contains("already")) {
        ApiError::conflict(text)
    } else {
        ApiError::invalid(text)
    }
}
