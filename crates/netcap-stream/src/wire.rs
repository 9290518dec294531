//! Reading the binary protocols (TLS handshakes, SSH packets): a checked
//! big-endian cursor over borrowed bytes.

/// A cursor over packet bytes: every read is checked and says `None` past
/// the end, so a lying length field never reads out of bounds or allocates.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rd<'a> {
    b: &'a [u8],
}

impl<'a> Rd<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Rd<'a> {
        Rd { b }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.b.is_empty()
    }

    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.b.len() {
            return None;
        }
        let (head, tail) = self.b.split_at(n);
        self.b = tail;
        Some(head)
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        let (&v, tail) = self.b.split_first()?;
        self.b = tail;
        Some(v)
    }

    pub(crate) fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes(b.try_into().ok()?))
    }

    pub(crate) fn u24(&mut self) -> Option<u32> {
        let b = self.take(3)?;
        Some(b.iter().fold(0u32, |acc, &x| (acc << 8) | u32::from(x)))
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        let b = self.take(4)?;
        Some(u32::from_be_bytes(b.try_into().ok()?))
    }

    /// Everything left.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.b)
    }

    /// A vector with a one-byte length prefix (TLS).
    pub(crate) fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }

    /// A vector with a two-byte length prefix (TLS).
    pub(crate) fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }

    /// A vector with a three-byte length prefix (TLS).
    pub(crate) fn vec24(&mut self) -> Option<&'a [u8]> {
        let n = self.u24()?;
        self.take(usize::try_from(n).ok()?)
    }

    /// An SSH `string`: a four-byte length and that many bytes (RFC 4251 §5).
    pub(crate) fn string(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()?;
        self.take(usize::try_from(n).ok()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_checked() {
        let mut rd = Rd::new(&[0, 3, b'a', b'b', b'c', 0, 0, 0, 9, 1]);
        assert_eq!(rd.vec16(), Some(&b"abc"[..]));
        // The length says 9, one byte is left: nothing is read past the end.
        let mut before = rd;
        assert_eq!(rd.string(), None);
        assert_eq!(before.rest().len(), 5);
        let mut rd = Rd::new(&[1, 2, 3]);
        assert_eq!(rd.u24(), Some(0x010203));
        assert!(rd.is_empty());
        assert_eq!(rd.u8(), None);
    }
}
