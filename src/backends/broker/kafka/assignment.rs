//! The partitions in a group member's assignment, as the group coordinator
//! hands it out (Kafka's ConsumerProtocolAssignment, versions 0–3: the
//! same leading fields). librdkafka gives the bytes; every client of the
//! consumer protocol (aiokafka, Java, librdkafka) writes this layout.

/// `topic`'s partitions in `bytes`; empty when the bytes are not the
/// consumer protocol (another protocol type) or are cut short.
pub(super) fn partitions_of(bytes: &[u8], topic: &str) -> Vec<i32> {
    parse(bytes, topic).unwrap_or_default()
}

fn parse(bytes: &[u8], topic: &str) -> Option<Vec<i32>> {
    let mut r = Reader(bytes);
    let _version = r.i16()?;
    let topics = r.i32()?;
    let mut out = Vec::new();
    for _ in 0..topics.max(0) {
        let len = r.i16()?;
        let name = r.take(usize::try_from(len).ok()?)?;
        let count = r.i32()?;
        for _ in 0..count.max(0) {
            let p = r.i32()?;
            if name == topic.as_bytes() {
                out.push(p);
            }
        }
    }
    out.sort_unstable();
    Some(out)
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn i16(&mut self) -> Option<i16> {
        Some(i16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }
    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(version: i16, topics: &[(&str, &[i32])]) -> Vec<u8> {
        let mut b = version.to_be_bytes().to_vec();
        b.extend((topics.len() as i32).to_be_bytes());
        for (t, ps) in topics {
            b.extend((t.len() as i16).to_be_bytes());
            b.extend(t.as_bytes());
            b.extend((ps.len() as i32).to_be_bytes());
            for p in *ps {
                b.extend(p.to_be_bytes());
            }
        }
        b.extend((-1i32).to_be_bytes()); // no user data
        b
    }

    #[test]
    fn the_partitions_of_the_topic_asked_about() {
        let b = encode(1, &[("other", &[0, 1]), ("enrich", &[3, 1])]);
        assert_eq!(partitions_of(&b, "enrich"), vec![1, 3]);
        assert_eq!(partitions_of(&b, "other"), vec![0, 1]);
        assert!(partitions_of(&b, "absent").is_empty());
    }

    #[test]
    fn bytes_cut_short_or_of_another_protocol_read_as_none() {
        let b = encode(0, &[("enrich", &[0, 1, 2])]);
        assert!(partitions_of(&b[..b.len() - 9], "enrich").is_empty());
        assert!(partitions_of(&[], "enrich").is_empty());
        assert!(partitions_of(&[0, 0, 0xff, 0xff, 0xff, 0xff], "enrich").is_empty());
    }
}
