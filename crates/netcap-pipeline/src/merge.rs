//! Merging the workers' record streams of one batch into packet order.

use crate::batch::{Key, TypeStream, WorkerOutput};

/// Calls `write(type_index, bytes, count)` for every run of records of the batch,
/// per record type in ascending type number, records in packet order.
pub(crate) fn merge_batch<E>(
    outputs: &[WorkerOutput],
    mut write: impl FnMut(usize, &[u8], u64) -> Result<(), E>,
) -> Result<(), E> {
    let mut types: Vec<usize> = outputs
        .iter()
        .flat_map(|o| o.touched.iter().copied())
        .collect();
    types.sort_unstable();
    types.dedup();
    for ty in types {
        let streams: Vec<&TypeStream> = outputs
            .iter()
            .filter_map(|o| o.streams.get(ty))
            .filter(|s| !s.ends.is_empty())
            .collect();
        if let [only] = streams.as_slice() {
            write(ty, &only.data, only.ends.len() as u64)?;
            continue;
        }
        // k-way merge by packet number; a packet's records all come from one
        // worker, so runs of consecutive records can be written at once.
        let mut pos = vec![0usize; streams.len()];
        loop {
            let next = |i: usize| {
                streams
                    .get(i)
                    .zip(pos.get(i))
                    .and_then(|(s, &p)| s.ends.get(p))
                    .map(|e| e.0)
            };
            let mut best: Option<(usize, Key)> = None;
            let mut second: Key = (u64::MAX, u64::MAX);
            for i in 0..streams.len() {
                if let Some(p) = next(i) {
                    match best {
                        Some((_, bp)) if p >= bp => second = second.min(p),
                        Some((_, bp)) => {
                            second = second.min(bp);
                            best = Some((i, p));
                        }
                        None => best = Some((i, p)),
                    }
                }
            }
            let Some((w, _)) = best else { break };
            let (Some(stream), Some(start_idx)) = (streams.get(w), pos.get(w).copied()) else {
                break;
            };
            let mut end_idx = start_idx;
            while stream.ends.get(end_idx).is_some_and(|e| e.0 < second) {
                end_idx += 1;
            }
            let start = if start_idx == 0 {
                0
            } else {
                stream.ends.get(start_idx - 1).map_or(0, |e| e.1)
            };
            let end = stream.ends.get(end_idx - 1).map_or(0, |e| e.1);
            write(
                ty,
                stream.data.get(start..end).unwrap_or_default(),
                (end_idx - start_idx) as u64,
            )?;
            if let Some(p) = pos.get_mut(w) {
                *p = end_idx;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(records: &[(usize, u64, u8)]) -> WorkerOutput {
        let mut o = WorkerOutput::new(0, Default::default());
        for &(ty, pkt, byte) in records {
            if o.streams.len() <= ty {
                o.streams.resize_with(ty + 1, TypeStream::default);
            }
            let s = &mut o.streams[ty];
            if s.ends.is_empty() {
                o.touched.push(ty);
            }
            s.data.push(byte);
            s.ends.push(((pkt, 0), s.data.len()));
        }
        o
    }

    #[test]
    fn interleaves_in_packet_order() {
        let a = out(&[
            (38, 1, b'a'),
            (38, 2, b'b'),
            (38, 2, b'B'),
            (38, 5, b'e'),
            (7, 1, b'x'),
        ]);
        let b = out(&[(38, 3, b'c'), (38, 4, b'd'), (38, 6, b'f'), (29, 3, b'y')]);
        let mut got: Vec<(usize, Vec<u8>, u64)> = Vec::new();
        merge_batch::<()>(&[a, b], |t, bytes, n| {
            got.push((t, bytes.to_vec(), n));
            Ok(())
        })
        .unwrap();
        let per_type = |t: usize| -> (Vec<u8>, u64) {
            got.iter()
                .filter(|g| g.0 == t)
                .fold((Vec::new(), 0), |(mut v, c), g| {
                    v.extend_from_slice(&g.1);
                    (v, c + g.2)
                })
        };
        assert_eq!(per_type(38), (b"abBcdef".to_vec(), 7));
        assert_eq!(per_type(7), (b"x".to_vec(), 1));
        assert_eq!(per_type(29), (b"y".to_vec(), 1));
        let order: Vec<usize> = got.iter().map(|g| g.0).collect();
        assert_eq!(order.first(), Some(&7));
        assert_eq!(order.last(), Some(&38));
    }
}
