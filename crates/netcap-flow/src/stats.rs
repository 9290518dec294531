//! Running statistics (Welford's algorithm): one pass, constant memory,
//! numerically stable.

/// Count, minimum, maximum, mean and variance of a sequence of values.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Running {
    n: u64,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
}

impl Running {
    /// Adds one value.
    pub fn add(&mut self, x: f64) {
        self.n = self.n.saturating_add(1);
        if self.n == 1 {
            self.min = x;
            self.max = x;
        } else {
            self.min = self.min.min(x);
            self.max = self.max.max(x);
        }
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
    }

    /// Number of values.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// Smallest value (0 when empty).
    pub fn min(&self) -> f64 {
        self.min
    }

    /// Largest value (0 when empty).
    pub fn max(&self) -> f64 {
        self.max
    }

    /// Arithmetic mean (0 when empty).
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// Sample standard deviation (n - 1 in the denominator, as NFStream and
    /// CICFlowMeter); 0 with fewer than two values.
    pub fn stddev(&self) -> f64 {
        if self.n < 2 {
            0.0
        } else {
            (self.m2 / (self.n - 1) as f64).max(0.0).sqrt()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(v: &[f64]) -> Running {
        let mut r = Running::default();
        for &x in v {
            r.add(x);
        }
        r
    }

    #[test]
    fn known_answers() {
        let r = of(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(r.count(), 8);
        assert_eq!(r.min(), 2.0);
        assert_eq!(r.max(), 9.0);
        assert!((r.mean() - 5.0).abs() < 1e-12);
        // Population variance 4, sample variance 32/7.
        assert!((r.stddev() - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
        let one = of(&[60.0]);
        assert_eq!(
            (one.min(), one.max(), one.mean(), one.stddev()),
            (60.0, 60.0, 60.0, 0.0)
        );
        let empty = Running::default();
        assert_eq!(
            (empty.min(), empty.max(), empty.mean(), empty.stddev()),
            (0.0, 0.0, 0.0, 0.0)
        );
    }

    #[test]
    fn stable_with_large_offsets() {
        // Nanosecond timestamps around 1.7e18: the naive sum-of-squares formula
        // loses every digit here, Welford does not.
        let base = 1.7e18;
        let r = of(&[base + 1000.0, base + 2000.0, base + 3000.0]);
        assert!((r.stddev() - 1000.0).abs() < 300.0, "{}", r.stddev());
        let r = of(&[1e9 + 4.0, 1e9 + 7.0, 1e9 + 13.0, 1e9 + 16.0]);
        assert!((r.mean() - (1e9 + 10.0)).abs() < 1e-6);
        assert!((r.stddev() - 30f64.sqrt()).abs() < 1e-6);
    }
}
