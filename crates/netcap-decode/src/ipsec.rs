//! IPsec: Authentication Header (RFC 4302) and Encapsulating Security Payload
//! (RFC 4303). AH is walked through to the protected protocol; ESP's payload is
//! encrypted, so the walk ends there.

use netcap_schema::{IpSecAh, IpSecEsp};

use crate::util::{be16, be32, clamp, size_i32, u8_at};
use crate::{need, DecodeError, PacketInfo};

/// Fixed part of an AH header (before the ICV).
pub const AH_FIXED_LEN: usize = 12;
/// SPI and sequence number of ESP.
pub const ESP_HEADER_LEN: usize = 8;

/// A zero-copy view of an Authentication Header that is captured whole.
#[derive(Debug, Clone, Copy)]
pub struct AhView<'a> {
    buf: &'a [u8],
}

impl<'a> AhView<'a> {
    /// Wraps `buf`; a Payload Length below the fixed part is `Invalid`.
    pub fn new(buf: &'a [u8]) -> Result<Self, DecodeError> {
        need("IPSecAH", buf, AH_FIXED_LEN)?;
        let view = Self { buf };
        if view.header_len() < AH_FIXED_LEN {
            return Err(DecodeError::Invalid {
                layer: "IPSecAH",
                field: "Length",
            });
        }
        need("IPSecAH", buf, view.header_len())?;
        Ok(view)
    }

    /// Protocol number of what follows.
    pub fn next_header(&self) -> u8 {
        u8_at(self.buf, 0)
    }

    /// Payload Length field (32-bit words minus 2).
    pub fn length_field(&self) -> u8 {
        u8_at(self.buf, 1)
    }

    /// Header length in bytes.
    pub fn header_len(&self) -> usize {
        (usize::from(self.length_field()) + 2) * 4
    }

    /// Reserved field.
    pub fn reserved(&self) -> u16 {
        be16(self.buf, 2)
    }

    /// Security parameters index.
    pub fn spi(&self) -> u32 {
        be32(self.buf, 4)
    }

    /// Sequence number.
    pub fn seq(&self) -> u32 {
        be32(self.buf, 8)
    }

    /// Integrity check value.
    pub fn icv(&self) -> &'a [u8] {
        clamp(self.buf, AH_FIXED_LEN, self.header_len())
    }

    /// Captured bytes after the header.
    pub fn payload(&self) -> &'a [u8] {
        clamp(self.buf, self.header_len(), self.buf.len())
    }
}

/// Builds the `IPSecAH` record of `view`.
pub fn ah_record(view: &AhView<'_>, pkt: &PacketInfo<'_>) -> IpSecAh {
    IpSecAh {
        timestamp: pkt.ts_ns,
        reserved: i32::from(view.reserved()),
        spi: view.spi(),
        seq: view.seq(),
        authentication_data: view.icv().to_vec(),
        packet_number: pkt.number,
        next_header: i32::from(view.next_header()),
        length: i32::from(view.length_field()),
        ..Default::default()
    }
}

/// A zero-copy view of an ESP header.
#[derive(Debug, Clone, Copy)]
pub struct EspView<'a> {
    buf: &'a [u8],
}

impl<'a> EspView<'a> {
    /// Wraps `buf`, checking that SPI and sequence number are present.
    pub fn new(buf: &'a [u8]) -> Result<Self, DecodeError> {
        need("IPSecESP", buf, ESP_HEADER_LEN)?;
        Ok(Self { buf })
    }

    /// Security parameters index.
    pub fn spi(&self) -> u32 {
        be32(self.buf, 0)
    }

    /// Sequence number.
    pub fn seq(&self) -> u32 {
        be32(self.buf, 4)
    }
}

/// Builds the `IPSecESP` record of `view`; `wire_len` is the ESP length the
/// IP header declares.
pub fn esp_record(view: &EspView<'_>, wire_len: usize, pkt: &PacketInfo<'_>) -> IpSecEsp {
    IpSecEsp {
        timestamp: pkt.ts_ns,
        spi: view.spi(),
        seq: view.seq(),
        len_encrypted: size_i32(wire_len.saturating_sub(ESP_HEADER_LEN)),
        packet_number: pkt.number,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(b: &[u8]) -> PacketInfo<'_> {
        PacketInfo {
            number: 2,
            ts_ns: 3,
            link_type: 1,
            orig_len: 0,
            data: b,
        }
    }

    #[test]
    fn ah_with_icv() {
        let mut b = vec![89, 4, 0, 0, 0, 0, 1, 0, 0, 0, 0, 7];
        b.extend_from_slice(&[0xab; 12]);
        b.push(0x20);
        let v = AhView::new(&b).unwrap();
        assert_eq!((v.header_len(), v.payload()), (24, &[0x20][..]));
        let r = ah_record(&v, &pkt(&b));
        assert_eq!(
            (r.next_header, r.length, r.reserved, r.spi, r.seq),
            (89, 4, 0, 256, 7)
        );
        assert_eq!(r.authentication_data, vec![0xab; 12]);
        assert_eq!((r.timestamp, r.packet_number), (3, 2));
        assert_eq!(
            AhView::new(&b[..20]).unwrap_err(),
            DecodeError::Truncated {
                layer: "IPSecAH",
                need: 24,
                have: 20
            }
        );
        b[1] = 0; // 8 bytes: shorter than SPI and sequence number
        assert!(matches!(
            AhView::new(&b),
            Err(DecodeError::Invalid {
                field: "Length",
                ..
            })
        ));
    }

    #[test]
    fn esp() {
        let b = [0, 0, 0x12, 0x34, 0, 0, 0, 9, 1, 2, 3];
        let v = EspView::new(&b).unwrap();
        let r = esp_record(&v, 100, &pkt(&b));
        assert_eq!((r.spi, r.seq, r.len_encrypted), (0x1234, 9, 92));
        assert!(EspView::new(&b[..7]).is_err());
    }
}
