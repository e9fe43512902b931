//! The upcall meter: keeps a flood of new flows from starving the slow path.
//!
//! The configured rate and burst are shared equally among input ports: each port has its own
//! token bucket holding `burst / ports` tokens (at least 1) and refilled at `rate / ports` per
//! second. A port that floods new flows exhausts only its own share; the upcalls of every other
//! port still pass. The share is not lent out when other ports are idle: a predictable cap is
//! worth more here than squeezing the last upcall out of a quiet moment, and the slow path's cost
//! is bounded by `rate` whatever the traffic.
//!
//! Tokens are kept in millitokens so that low rates divided among many ports stay exact. Time is
//! whatever clock the pipeline runs on (capture time in replay), in nanoseconds. No allocation
//! after a port is first seen.

use crate::port::PortId;

/// A token bucket in millitokens, refilled on the pipeline's clock (capture time in replay).
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenBucket {
    /// Millitokens.
    level: u64,
    last: u64,
    primed: bool,
}

impl TokenBucket {
    /// Takes one token at `now` (ns) from a bucket holding at most `cap_milli` millitokens and
    /// refilled at `rate_milli_per_s`; full the first time it is asked. True when there was one.
    #[inline]
    pub fn take(&mut self, now: u64, cap_milli: u64, rate_milli_per_s: u64) -> bool {
        if !self.primed {
            self.primed = true;
            self.level = cap_milli;
            self.last = now;
        } else if now > self.last {
            let dt = now - self.last;
            // millitokens = dt[ns] * rate[milli/s] / 1e9, without overflow for any dt.
            let add = (u128::from(dt) * u128::from(rate_milli_per_s) / 1_000_000_000) as u64;
            if add > 0 {
                self.level = self.level.saturating_add(add).min(cap_milli);
                self.last = now;
            }
        }
        if self.level >= 1000 {
            self.level -= 1000;
            true
        } else {
            false
        }
    }

    /// Lowers the level to at most `cap_milli` (the capacity shrank).
    pub fn clamp(&mut self, cap_milli: u64) {
        self.level = self.level.min(cap_milli);
    }
}

/// Per-input-port token buckets for upcalls.
#[derive(Debug, Clone)]
pub struct UpcallMeter {
    rate_per_s: u64,
    burst: u64,
    buckets: Vec<TokenBucket>,
    ports: usize,
    /// Upcalls admitted and refused, per input port.
    admitted: Vec<u64>,
    refused: Vec<u64>,
}

impl UpcallMeter {
    /// A meter admitting `rate_per_s` upcalls per second with bursts of `burst`, divided equally
    /// among `ports` input ports (grown as ports appear).
    pub fn new(rate_per_s: u64, burst: u64, ports: usize) -> Self {
        let mut m = UpcallMeter {
            rate_per_s: rate_per_s.max(1),
            burst: burst.max(1),
            buckets: Vec::new(),
            ports: 0,
            admitted: Vec::new(),
            refused: Vec::new(),
        };
        m.set_ports(ports.max(1));
        m
    }

    /// Changes the number of ports sharing the meter.
    pub fn set_ports(&mut self, ports: usize) {
        self.ports = ports.max(1);
        if self.buckets.len() < self.ports {
            self.buckets.resize(self.ports, TokenBucket::default());
            self.admitted.resize(self.ports, 0);
            self.refused.resize(self.ports, 0);
        }
        let cap = self.capacity_milli();
        for b in &mut self.buckets {
            b.clamp(cap);
        }
    }

    fn capacity_milli(&self) -> u64 {
        (self.burst.saturating_mul(1000) / self.ports as u64).max(1000)
    }

    /// Asks for one upcall from `port` at time `now` (ns). True when admitted.
    #[inline]
    pub fn admit(&mut self, port: PortId, now: u64) -> bool {
        let i = usize::from(port);
        if i >= self.buckets.len() {
            self.set_ports(i + 1);
        }
        let cap = self.capacity_milli();
        let rate_milli_per_s = self.rate_per_s.saturating_mul(1000) / self.ports as u64;
        if self.buckets[i].take(now, cap, rate_milli_per_s) {
            self.admitted[i] += 1;
            true
        } else {
            self.refused[i] += 1;
            false
        }
    }

    /// Upcalls admitted from `port`.
    pub fn admitted(&self, port: PortId) -> u64 {
        self.admitted.get(usize::from(port)).copied().unwrap_or(0)
    }

    /// Upcalls refused from `port`.
    pub fn refused(&self, port: PortId) -> u64 {
        self.refused.get(usize::from(port)).copied().unwrap_or(0)
    }

    /// Upcalls refused from every port.
    pub fn refused_total(&self) -> u64 {
        self.refused.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn burst_then_rate() {
        let mut m = UpcallMeter::new(1000, 100, 1);
        let ok = (0..200).filter(|_| m.admit(0, 0)).count();
        assert_eq!(ok, 100, "the burst");
        // 10 ms later: 10 more tokens.
        let ok = (0..200).filter(|_| m.admit(0, 10 * MS)).count();
        assert_eq!(ok, 10);
        assert_eq!(m.refused(0), 290);
    }

    #[test]
    fn flooding_port_does_not_starve_others() {
        let mut m = UpcallMeter::new(10_000, 1000, 2);
        let mut quiet_ok = 0;
        let mut flood_ok = 0;
        // One second: port 0 asks 100 upcalls per ms, port 1 asks one per ms.
        for t in 0..1000u64 {
            for _ in 0..100 {
                flood_ok += u64::from(m.admit(0, t * MS));
            }
            quiet_ok += u64::from(m.admit(1, t * MS));
        }
        assert_eq!(quiet_ok, 1000, "every upcall of the quiet port passes");
        // The flooding port gets its share: burst 500 + 5000/s for ~1 s.
        assert!((5000..=5600).contains(&flood_ok), "{flood_ok}");
    }

    #[test]
    fn long_idle_does_not_overflow() {
        let mut m = UpcallMeter::new(u64::MAX / 2, u64::MAX / 2, 3);
        assert!(m.admit(2, 0));
        assert!(m.admit(2, u64::MAX));
        let mut m = UpcallMeter::new(1, 1, 1000);
        assert!(m.admit(999, 0), "a share never drops below one token");
        assert!(!m.admit(999, 1));
    }
}
