//! The devices the appliance attaches, and the `--devargs NAME=DEVARGS` override.

use super::{Binding, Topology};

/// Why `--devargs NAME=DEVARGS` could not be applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DevargsError {
    /// NAME is neither an uplink nor the device name of a port.
    #[error("--devargs {0}: no uplink and no port has the device name {0:?}")]
    UnknownDevice(String),
    /// NAME is the device of a port the appliance serves itself (router, DHCP).
    #[error("--devargs {name}: port {port_id} is a {owner} port, served inside the appliance")]
    NotBindable {
        /// The device name given.
        name: String,
        /// The port with that device name.
        port_id: String,
        /// Its device owner.
        owner: String,
    },
    /// DEVARGS is empty.
    #[error("--devargs {0}: empty devargs")]
    Empty(String),
}

impl Topology {
    /// Every device the appliance must attach, as (name, devargs): uplinks in file order,
    /// then the locally bound ports in file order (named `tap…`).
    pub fn devices(&self) -> Vec<(String, String)> {
        let uplinks = self
            .uplinks
            .iter()
            .map(|u| (u.name.clone(), u.devargs.clone()));
        let ports = self
            .ports
            .iter()
            .filter_map(|p| Some((p.device_name(), p.local_devargs()?.to_owned())));
        uplinks.chain(ports).collect()
    }

    /// Applies `--devargs NAME=DEVARGS`: sets the devargs of the uplink called `name`, or
    /// binds the port whose device name is `name` (`tap1653ec91-ad`) to a local device
    /// with these devargs.
    pub fn set_devargs(&mut self, name: &str, devargs: &str) -> Result<(), DevargsError> {
        if devargs.trim().is_empty() {
            return Err(DevargsError::Empty(name.to_owned()));
        }
        if let Some(u) = self.uplinks.iter_mut().find(|u| u.name == name) {
            u.devargs = devargs.to_owned();
            return Ok(());
        }
        let port = self
            .ports
            .iter_mut()
            .find(|p| p.device_name() == name)
            .ok_or_else(|| DevargsError::UnknownDevice(name.to_owned()))?;
        if port.is_network_owned() {
            return Err(DevargsError::NotBindable {
                name: name.to_owned(),
                port_id: port.id.clone(),
                owner: port.device_owner.clone(),
            });
        }
        port.binding = Some(Binding::Local {
            devargs: devargs.to_owned(),
        });
        Ok(())
    }
}
