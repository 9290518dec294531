//! Shannon entropy of payload bytes (`PayloadEntropy`).

/// Shannon entropy of `bytes` in bits per byte (0.0 to 8.0); 0.0 for no bytes.
pub fn shannon(bytes: &[u8]) -> f64 {
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u64; 256];
    for &b in bytes {
        if let Some(c) = counts.get_mut(usize::from(b)) {
            *c = c.saturating_add(1);
        }
    }
    // Lossy for lengths above 2^53, which no packet reaches.
    #[allow(clippy::cast_precision_loss)]
    let total = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            #[allow(clippy::cast_precision_loss)]
            let p = c as f64 / total;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(shannon(&[]), 0.0);
        assert_eq!(shannon(&[7; 100]), 0.0);
        assert!((shannon(&[0, 1]) - 1.0).abs() < 1e-12);
        assert!((shannon(&[0, 1, 2, 3]) - 2.0).abs() < 1e-12);
        let all: Vec<u8> = (0..=255).collect();
        assert!((shannon(&all) - 8.0).abs() < 1e-12);
        // 3 of one symbol, 1 of another: -(.75 log .75 + .25 log .25)
        assert!((shannon(b"aaab") - 0.811_278_124_459_132_8).abs() < 1e-12);
    }
}
