//! `KEY=VALUE,KEY=VALUE` option values, as the neutron CLI takes them.

use control::api::FixedIpRequest;
use control::model::{AddressPair, AllocationPool, Route};

/// `k=v,k=v` as pairs; every key must be one of `keys`.
fn pairs(s: &str, keys: &[&str]) -> Result<Vec<(String, String)>, String> {
    s.split(',')
        .map(|kv| {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| format!("{kv:?}: expected KEY=VALUE"))?;
            if !keys.contains(&k) {
                return Err(format!("unknown key {k:?} (expected {})", keys.join(", ")));
            }
            Ok((k.to_owned(), v.to_owned()))
        })
        .collect()
}

/// The value of `key` among `pairs`.
fn get(pairs: &[(String, String)], key: &str) -> Option<String> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

/// `start=IP,end=IP`.
pub(crate) fn pool(s: &str) -> Result<AllocationPool, String> {
    let p = pairs(s, &["start", "end"])?;
    let (Some(start), Some(end)) = (get(&p, "start"), get(&p, "end")) else {
        return Err("expected start=IP,end=IP".into());
    };
    Ok(AllocationPool { start, end })
}

/// `destination=CIDR,nexthop=IP`.
pub(crate) fn route(s: &str) -> Result<Route, String> {
    let p = pairs(s, &["destination", "nexthop"])?;
    let (Some(destination), Some(nexthop)) = (get(&p, "destination"), get(&p, "nexthop")) else {
        return Err("expected destination=CIDR,nexthop=IP".into());
    };
    Ok(Route {
        destination,
        nexthop,
    })
}

/// `subnet_id=SUBNET,ip_address=IP`, either part optional.
pub(crate) fn fixed_ip(s: &str) -> Result<FixedIpRequest, String> {
    let p = pairs(s, &["subnet_id", "subnet", "ip_address"])?;
    Ok(FixedIpRequest {
        subnet_id: get(&p, "subnet_id").or_else(|| get(&p, "subnet")),
        ip_address: get(&p, "ip_address"),
    })
}

/// `ip_address=IP[,mac_address=MAC]`.
pub(crate) fn address_pair(s: &str) -> Result<AddressPair, String> {
    let p = pairs(s, &["ip_address", "mac_address"])?;
    let ip_address = get(&p, "ip_address").ok_or("expected ip_address=IP[,mac_address=MAC]")?;
    Ok(AddressPair {
        ip_address,
        mac_address: get(&p, "mac_address"),
    })
}
