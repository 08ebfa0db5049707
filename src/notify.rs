//! systemd's service notification protocol (sd_notify(3): datagrams to `NOTIFY_SOCKET`):
//! `READY=1` once the devices are up and the control socket serves, `STATUS=` a one-line
//! summary, `WATCHDOG=1` from the main thread only while every worker answers, and
//! `STOPPING=1`. Without `NOTIFY_SOCKET` (not under systemd) nothing is sent.

use crate::worker::Counters;
use sd_notify::NotifyState;
use std::time::Duration;

/// How often the status line is refreshed when systemd asks for no watchdog.
const STATUS_EVERY: Duration = Duration::from_secs(10);

/// The notification side of the process, as the environment set it up.
#[derive(Clone, Debug)]
pub struct Notifier {
    /// NOTIFY_SOCKET is set.
    enabled: bool,
    /// The watchdog period systemd expects pings within (WATCHDOG_USEC), if any.
    watchdog: Option<Duration>,
}

impl Notifier {
    /// From `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` (a watchdog meant for
    /// another process is ignored, as sd_watchdog_enabled(3) does).
    pub fn from_env() -> Notifier {
        let enabled = std::env::var_os("NOTIFY_SOCKET").is_some();
        let usec = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|&u| u > 0);
        let for_us = match std::env::var("WATCHDOG_PID").ok().map(|p| p.parse::<u32>()) {
            None => true,
            Some(pid) => pid == Ok(std::process::id()),
        };
        Notifier {
            enabled,
            watchdog: usec
                .filter(|_| enabled && for_us)
                .map(Duration::from_micros),
        }
    }

    /// How often the main thread should check the workers and ping: half the watchdog
    /// period (sd_watchdog_enabled(3) advises pinging at half of it); the status refresh
    /// period without a watchdog; None when nobody listens.
    pub fn check_every(&self) -> Option<Duration> {
        match (self.enabled, self.watchdog) {
            (false, _) => None,
            (true, Some(period)) => Some(period / 2),
            (true, None) => Some(STATUS_EVERY),
        }
    }

    fn send(&self, states: &[NotifyState]) {
        if !self.enabled {
            return;
        }
        if let Err(e) = sd_notify::notify(false, states) {
            log::warn!("NOTIFY_SOCKET: {e}");
        }
    }

    /// The devices are up and the control socket serves.
    pub fn ready(&self, status: &str) {
        self.send(&[NotifyState::Ready, NotifyState::Status(status)]);
    }

    /// The result of one check of the workers: a ping (if systemd watches) and the status
    /// when they all answered, only the status saying which did not otherwise.
    pub fn checked(&self, workers: Option<&[Counters]>, expected: usize) {
        match workers {
            Some(w) if self.watchdog.is_some() => {
                self.send(&[NotifyState::Watchdog, NotifyState::Status(&status_line(w))]);
            }
            Some(w) => self.send(&[NotifyState::Status(&status_line(w))]),
            None => {
                let status =
                    format!("stalled: not every one of {expected} worker(s) answered in time");
                self.send(&[NotifyState::Status(&status)]);
            }
        }
    }

    /// The process is stopping.
    pub fn stopping(&self) {
        self.send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
    }

    /// How long a check may wait for the workers' answers: a quarter of the watchdog
    /// period, so that a late answer still leaves time to ping.
    pub fn answer_timeout(&self) -> Duration {
        self.watchdog.map_or(Duration::from_secs(1), |p| {
            (p / 4).max(Duration::from_millis(10))
        })
    }
}

/// The one-line summary systemctl status shows.
pub fn status_line(workers: &[Counters]) -> String {
    let (mut rx, mut tx, mut drops, mut sessions) = (0, 0, 0, 0);
    for w in workers {
        rx += w.stats.ports.iter().map(|p| p.rx_packets).sum::<u64>();
        tx += w.stats.ports.iter().map(|p| p.tx_packets).sum::<u64>();
        drops += w.stats.total_drops();
        sessions += w.sessions;
    }
    format!(
        "forwarding: {} worker(s), rx {rx} tx {tx} dropped {drops}, {sessions} session(s)",
        workers.len()
    )
}
