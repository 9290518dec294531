//! Link-layer framing: which decoder a captured frame goes to.
//!
//! Ethernet has its own record; the other supported link types (BSD loopback,
//! raw IP, Linux cooked captures) only carry a protocol identifier, which is
//! turned into an EtherType so the network layer is reached the same way.

use crate::ethernet::{ETHERTYPE_IPV4, ETHERTYPE_IPV6};
use crate::util::{array_at, be16, clamp, u8_at};
use crate::{need, DecodeError};

/// LINKTYPE_NULL: BSD loopback, 4-byte address family in the capturer's byte order.
pub const LINKTYPE_NULL: u32 = 0;
/// LINKTYPE_ETHERNET.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// LINKTYPE_RAW (also DLT_RAW 12 and 14 on some systems): bare IPv4 or IPv6.
pub const LINKTYPE_RAW: u32 = 101;
/// OpenBSD's DLT_RAW value.
pub const LINKTYPE_RAW_12: u32 = 12;
/// BSD/OS DLT_RAW value.
pub const LINKTYPE_RAW_14: u32 = 14;
/// LINKTYPE_LOOP: OpenBSD loopback (like NULL; accepted in both byte orders).
pub const LINKTYPE_LOOP: u32 = 108;
/// LINKTYPE_LINUX_SLL: Linux cooked capture v1.
pub const LINKTYPE_LINUX_SLL: u32 = 113;
/// LINKTYPE_IPV4: bare IPv4.
pub const LINKTYPE_IPV4: u32 = 228;
/// LINKTYPE_IPV6: bare IPv6.
pub const LINKTYPE_IPV6: u32 = 229;
/// LINKTYPE_LINUX_SLL2: Linux cooked capture v2.
pub const LINKTYPE_LINUX_SLL2: u32 = 276;

/// LINKTYPE_PPP: PPP, with or without HDLC-like address and control bytes.
pub const LINKTYPE_PPP: u32 = 9;
/// LINKTYPE_PPP_HDLC: PPP in HDLC-like framing (address and control always present).
pub const LINKTYPE_PPP_HDLC: u32 = 50;
/// LINKTYPE_IEEE802_11: 802.11 frames without a capture header.
pub const LINKTYPE_IEEE802_11: u32 = 105;
/// LINKTYPE_IEEE802_11_RADIOTAP: 802.11 frames after a radiotap header.
pub const LINKTYPE_IEEE802_11_RADIOTAP: u32 = 127;

/// Length of a Linux cooked capture v1 header.
pub const SLL_HEADER_LEN: usize = 16;
/// Length of a Linux cooked capture v2 header.
pub const SLL2_HEADER_LEN: usize = 20;
/// Length of the BSD loopback header.
pub const NULL_HEADER_LEN: usize = 4;

/// What comes after the link-layer framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkNext<'a> {
    /// An Ethernet frame (the whole captured data).
    Ethernet(&'a [u8]),
    /// A network-layer packet with the EtherType that identifies it.
    Network {
        /// EtherType of `payload` (synthesised for loopback and raw IP).
        ether_type: u16,
        /// Bytes after the link header.
        payload: &'a [u8],
    },
    /// A PPP frame; `hdlc` when address and control bytes are always present.
    Ppp {
        /// The whole captured data.
        frame: &'a [u8],
        /// PPP-in-HDLC link type.
        hdlc: bool,
    },
    /// An 802.11 frame; `radiotap` when a radiotap header comes first.
    Dot11 {
        /// The whole captured data.
        frame: &'a [u8],
        /// Radiotap link type.
        radiotap: bool,
    },
    /// A BSD loopback frame with an address family Netcap does not decode.
    UnknownFamily(u32),
    /// A link type Netcap does not decode.
    Unsupported,
}

/// Classifies `data` captured with link type `link_type`.
pub fn classify(link_type: u32, data: &[u8]) -> Result<LinkNext<'_>, DecodeError> {
    match link_type {
        LINKTYPE_ETHERNET => Ok(LinkNext::Ethernet(data)),
        LINKTYPE_NULL | LINKTYPE_LOOP => null(data),
        LINKTYPE_PPP | LINKTYPE_PPP_HDLC => Ok(LinkNext::Ppp {
            frame: data,
            hdlc: link_type == LINKTYPE_PPP_HDLC,
        }),
        LINKTYPE_IEEE802_11 | LINKTYPE_IEEE802_11_RADIOTAP => Ok(LinkNext::Dot11 {
            frame: data,
            radiotap: link_type == LINKTYPE_IEEE802_11_RADIOTAP,
        }),
        LINKTYPE_RAW | LINKTYPE_RAW_12 | LINKTYPE_RAW_14 => raw(data),
        LINKTYPE_IPV4 => Ok(LinkNext::Network {
            ether_type: ETHERTYPE_IPV4,
            payload: data,
        }),
        LINKTYPE_IPV6 => Ok(LinkNext::Network {
            ether_type: ETHERTYPE_IPV6,
            payload: data,
        }),
        LINKTYPE_LINUX_SLL => {
            need("LinuxSLL", data, SLL_HEADER_LEN)?;
            Ok(LinkNext::Network {
                ether_type: be16(data, 14),
                payload: clamp(data, SLL_HEADER_LEN, data.len()),
            })
        }
        LINKTYPE_LINUX_SLL2 => {
            need("LinuxSLL2", data, SLL2_HEADER_LEN)?;
            Ok(LinkNext::Network {
                ether_type: be16(data, 0),
                payload: clamp(data, SLL2_HEADER_LEN, data.len()),
            })
        }
        _ => Ok(LinkNext::Unsupported),
    }
}

/// EtherType of an IP address family of the loopback header, if known.
fn family_ether_type(family: u32) -> Option<u16> {
    match family {
        2 => Some(ETHERTYPE_IPV4),
        // AF_INET6 differs between BSDs (24 NetBSD/OpenBSD, 28 FreeBSD, 30 macOS).
        24 | 28 | 30 => Some(ETHERTYPE_IPV6),
        _ => None,
    }
}

/// BSD loopback: the family is in the byte order of the machine that captured,
/// which the file does not record, so both orders are tried.
fn null(data: &[u8]) -> Result<LinkNext<'_>, DecodeError> {
    need("Null", data, NULL_HEADER_LEN)?;
    let raw = array_at::<4>(data, 0);
    let le = u32::from_le_bytes(raw);
    let be = u32::from_be_bytes(raw);
    let payload = clamp(data, NULL_HEADER_LEN, data.len());
    Ok(
        match family_ether_type(le).or_else(|| family_ether_type(be)) {
            Some(ether_type) => LinkNext::Network {
                ether_type,
                payload,
            },
            // Report the family the way a little-endian capturer would have written
            // it unless only the other order gives a small number.
            None => LinkNext::UnknownFamily(if le <= 0xffff { le } else { be }),
        },
    )
}

/// Raw IP: the version nibble tells IPv4 from IPv6.
fn raw(data: &[u8]) -> Result<LinkNext<'_>, DecodeError> {
    need("RawIP", data, 1)?;
    match u8_at(data, 0) >> 4 {
        4 => Ok(LinkNext::Network {
            ether_type: ETHERTYPE_IPV4,
            payload: data,
        }),
        6 => Ok(LinkNext::Network {
            ether_type: ETHERTYPE_IPV6,
            payload: data,
        }),
        _ => Err(DecodeError::Invalid {
            layer: "RawIP",
            field: "Version",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ethernet_and_unsupported() {
        assert_eq!(classify(1, &[1, 2]).unwrap(), LinkNext::Ethernet(&[1, 2]));
        assert_eq!(classify(147, &[1, 2]).unwrap(), LinkNext::Unsupported);
        assert_eq!(classify(264, &[]).unwrap(), LinkNext::Unsupported);
        assert_eq!(
            classify(9, &[1]).unwrap(),
            LinkNext::Ppp {
                frame: &[1],
                hdlc: false
            }
        );
        assert_eq!(
            classify(127, &[]).unwrap(),
            LinkNext::Dot11 {
                frame: &[],
                radiotap: true
            }
        );
    }

    #[test]
    fn null_both_byte_orders() {
        let le = [2, 0, 0, 0, 0x45];
        let be = [0, 0, 0, 2, 0x45];
        for d in [&le[..], &be[..]] {
            for lt in [LINKTYPE_NULL, LINKTYPE_LOOP] {
                assert_eq!(
                    classify(lt, d).unwrap(),
                    LinkNext::Network {
                        ether_type: 0x0800,
                        payload: &[0x45]
                    }
                );
            }
        }
        for fam in [24u32, 28, 30] {
            let d = fam.to_le_bytes();
            assert_eq!(
                classify(0, &d).unwrap(),
                LinkNext::Network {
                    ether_type: 0x86dd,
                    payload: &[]
                }
            );
            let d = fam.to_be_bytes();
            assert_eq!(
                classify(108, &d).unwrap(),
                LinkNext::Network {
                    ether_type: 0x86dd,
                    payload: &[]
                }
            );
        }
        assert_eq!(
            classify(0, &[7, 0, 0, 0]).unwrap(),
            LinkNext::UnknownFamily(7)
        );
        assert_eq!(
            classify(0, &[0, 0, 0, 7]).unwrap(),
            LinkNext::UnknownFamily(7)
        );
        assert_eq!(
            classify(0, &[2, 0, 0]).unwrap_err(),
            DecodeError::Truncated {
                layer: "Null",
                need: 4,
                have: 3
            }
        );
    }

    #[test]
    fn raw_ip_versions() {
        for lt in [12, 14, 101] {
            assert_eq!(
                classify(lt, &[0x45]).unwrap(),
                LinkNext::Network {
                    ether_type: 0x0800,
                    payload: &[0x45]
                }
            );
            assert_eq!(
                classify(lt, &[0x60]).unwrap(),
                LinkNext::Network {
                    ether_type: 0x86dd,
                    payload: &[0x60]
                }
            );
            assert_eq!(
                classify(lt, &[0x50]).unwrap_err(),
                DecodeError::Invalid {
                    layer: "RawIP",
                    field: "Version"
                }
            );
            assert_eq!(
                classify(lt, &[]).unwrap_err(),
                DecodeError::Truncated {
                    layer: "RawIP",
                    need: 1,
                    have: 0
                }
            );
        }
        assert_eq!(
            classify(228, &[0x60]).unwrap(),
            LinkNext::Network {
                ether_type: 0x0800,
                payload: &[0x60]
            }
        );
        assert_eq!(
            classify(229, &[]).unwrap(),
            LinkNext::Network {
                ether_type: 0x86dd,
                payload: &[]
            }
        );
    }

    #[test]
    fn linux_cooked() {
        let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x86, 0xdd];
        sll.push(0x60);
        assert_eq!(
            classify(113, &sll).unwrap(),
            LinkNext::Network {
                ether_type: 0x86dd,
                payload: &[0x60]
            }
        );
        for n in 0..16 {
            assert_eq!(
                classify(113, &sll[..n]).unwrap_err(),
                DecodeError::Truncated {
                    layer: "LinuxSLL",
                    need: 16,
                    have: n
                }
            );
        }
        let mut sll2 = vec![
            0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 4, 6, 1, 2, 3, 4, 5, 6, 0, 0,
        ];
        sll2.push(0x45);
        assert_eq!(
            classify(276, &sll2).unwrap(),
            LinkNext::Network {
                ether_type: 0x0800,
                payload: &[0x45]
            }
        );
        for n in 0..20 {
            assert_eq!(
                classify(276, &sll2[..n]).unwrap_err(),
                DecodeError::Truncated {
                    layer: "LinuxSLL2",
                    need: 20,
                    have: n
                }
            );
        }
    }
}
