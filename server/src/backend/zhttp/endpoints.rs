//! The three endpoints a `zhttp/<spec>` target binds (§2.7): PUSH for first packets, ROUTER for
//! the packets that follow, SUB for everything the workers answer.

use std::fmt;

/// Where each of a `zhttp/` target's sockets binds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    /// PUSH: the first packet of each request; workers connect a PULL.
    pub push: String,
    /// ROUTER: later packets (credits, keep-alives, body, cancel), addressed to a worker's `from`.
    pub router: String,
    /// SUB: every worker packet, published as `<our address> T…`.
    pub sub: String,
}

/// A `zhttp/` spec that does not name three endpoints.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub struct SpecError(String);

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "zhttp/{}: expected tcp://host:port (port+1 and port+2 are used too) or ipc://path",
            self.0
        )
    }
}

impl Endpoints {
    /// `tcp://host:P` binds P, P+1 and P+2; `ipc://path` binds `path-out`, `path-out-stream` and
    /// `path-in`, as Pushpin does, so workers written for Pushpin connect unchanged.
    pub fn from_spec(spec: &str) -> Result<Endpoints, SpecError> {
        let bad = || SpecError(spec.to_owned());
        if let Some(path) = spec.strip_prefix("ipc://") {
            if path.is_empty() {
                return Err(bad());
            }
            return Ok(Endpoints {
                push: format!("ipc://{path}-out"),
                router: format!("ipc://{path}-out-stream"),
                sub: format!("ipc://{path}-in"),
            });
        }
        let rest = spec.strip_prefix("tcp://").ok_or_else(bad)?;
        let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        let next = |n: u16| port.checked_add(n).ok_or_else(bad);
        if host.is_empty() || port == 0 {
            return Err(bad());
        }
        Ok(Endpoints {
            push: format!("tcp://{host}:{port}"),
            router: format!("tcp://{host}:{}", next(1)?),
            sub: format!("tcp://{host}:{}", next(2)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_specs_take_three_ports() {
        let e = Endpoints::from_spec("tcp://127.0.0.1:17200").unwrap();
        assert_eq!(e.push, "tcp://127.0.0.1:17200");
        assert_eq!(e.router, "tcp://127.0.0.1:17201");
        assert_eq!(e.sub, "tcp://127.0.0.1:17202");
        let v6 = Endpoints::from_spec("tcp://[::1]:9").unwrap();
        assert_eq!(v6.sub, "tcp://[::1]:11");
    }

    #[test]
    fn ipc_specs_take_three_paths() {
        let e = Endpoints::from_spec("ipc:///run/app/z").unwrap();
        assert_eq!(e.push, "ipc:///run/app/z-out");
        assert_eq!(e.router, "ipc:///run/app/z-out-stream");
        assert_eq!(e.sub, "ipc:///run/app/z-in");
    }

    #[test]
    fn specs_without_room_or_shape_are_refused() {
        for spec in [
            "tcp://127.0.0.1:65534",
            "tcp://127.0.0.1",
            "tcp://:80",
            "tcp://h:0",
            "tcp://h:x",
            "ipc://",
            "inproc://x",
        ] {
            assert!(Endpoints::from_spec(spec).is_err(), "{spec}");
        }
        let e = Endpoints::from_spec("tcp://h:65533").unwrap();
        assert_eq!(e.sub, "tcp://h:65535");
    }
}
