//! What the model needs made up when a request leaves it out: ids (UUID v4) and MACs
//! (`fa:16:3e:…`, as Neutron).

use crate::addr::parse_mac;
use crate::api::ApiError;
use crate::model::Topology;
use std::collections::HashSet;
use std::io::Read;

/// `N` random bytes from the kernel.
fn random<const N: usize>() -> Result<[u8; N], ApiError> {
    let mut buf = [0u8; N];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|e| ApiError::internal(format!("/dev/urandom: {e}")))?;
    Ok(buf)
}

/// `given`, or a new random UUID (version 4, RFC 4122).
pub(super) fn id_or_new(given: &Option<String>) -> Result<String, ApiError> {
    if let Some(id) = given {
        return Ok(id.clone());
    }
    let mut b = random::<16>()?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

/// `given`, or a random `fa:16:3e:xx:xx:xx` MAC no port of `network_id` has.
pub(super) fn mac_or_new(
    topo: &Topology,
    network_id: &str,
    given: &Option<String>,
) -> Result<String, ApiError> {
    if let Some(mac) = given {
        return Ok(mac.clone());
    }
    let taken: HashSet<_> = topo
        .ports
        .iter()
        .filter(|p| p.network_id == network_id)
        .filter_map(|p| parse_mac(&p.mac_address))
        .collect();
    for _ in 0..64 {
        let b = random::<3>()?;
        let mac = format!("fa:16:3e:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2]);
        if parse_mac(&mac).is_some_and(|m| !taken.contains(&m)) {
            return Ok(mac);
        }
    }
    Err(ApiError::conflict(format!(
        "no free MAC address found on network {network_id}"
    )))
}
