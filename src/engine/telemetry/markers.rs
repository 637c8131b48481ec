//! Lever markers: the operator actions that change the flow (rollout,
//! rollback, resume, hold, release, concurrency, rate), taken from the
//! audit trail and placed on the time axis of the lag and throughput
//! sparklines and of `:history` (Sidekiq's deploy marks), and listed by
//! `history --json`. Only levers that took (result "ok") are marked.

use serde::Serialize;

use crate::ports::control::AuditEntry;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkerKind {
    Rollout,
    Rollback,
    Resume,
    Hold,
    Release,
    Concurrency,
    Rate,
}

impl MarkerKind {
    /// The audit action's lever, by its first word (the levers' `describe`).
    fn of(action: &str) -> Option<MarkerKind> {
        let first = action.split_whitespace().next()?.to_ascii_lowercase();
        Some(match first.as_str() {
            "rollout" => MarkerKind::Rollout,
            "emergency" => MarkerKind::Rollback,
            "resume" => MarkerKind::Resume,
            "hold" => MarkerKind::Hold,
            "release" => MarkerKind::Release,
            "concurrency" => MarkerKind::Concurrency,
            "max" if action.starts_with("max rate") => MarkerKind::Rate,
            _ => return None,
        })
    }

    /// Its mark on a sparkline's marker row.
    pub fn glyph(self) -> char {
        match self {
            MarkerKind::Rollout => '%',
            MarkerKind::Rollback => '!',
            MarkerKind::Resume => '>',
            MarkerKind::Hold => 'H',
            MarkerKind::Release => 'h',
            MarkerKind::Concurrency => 'C',
            MarkerKind::Rate => 'R',
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Marker {
    pub at_ms: i64,
    pub kind: MarkerKind,
    /// The audit line's action and its after ("concurrency up (fleet)": 12).
    pub action: String,
    pub after: String,
    pub actor: String,
}

/// The markers among `audit` at or after `from_ms`, oldest first.
pub fn markers(audit: &[AuditEntry], from_ms: i64) -> Vec<Marker> {
    let mut out: Vec<Marker> = audit
        .iter()
        .filter(|e| e.at_ms >= from_ms && e.result.starts_with("ok"))
        .filter_map(|e| {
            Some(Marker {
                at_ms: e.at_ms,
                kind: MarkerKind::of(&e.action)?,
                action: crate::sanitize::clean(&e.action),
                after: crate::sanitize::clean(&e.after),
                actor: crate::sanitize::clean(&e.actor),
            })
        })
        .collect();
    out.sort_by_key(|m| m.at_ms);
    out
}

/// A row as wide as a sparkline whose columns are the points taken at
/// `stamps` (unix ms, oldest first, one per column from the left): each
/// marker's glyph at the first column taken at or after it ('*' where two
/// fall on one column). None when no marker falls in that span.
pub fn row(markers: &[Marker], stamps: &[i64], width: usize) -> Option<String> {
    let stamps = &stamps[stamps.len().saturating_sub(width)..];
    let (first, last) = (*stamps.first()?, *stamps.last()?);
    let mut cols = vec![' '; width.min(stamps.len()).max(1)];
    let mut any = false;
    for m in markers {
        if m.at_ms < first || m.at_ms > last {
            continue;
        }
        let col = stamps.partition_point(|t| *t < m.at_ms).min(cols.len() - 1);
        cols[col] = if cols[col] == ' ' {
            m.kind.glyph()
        } else {
            '*'
        };
        any = true;
    }
    any.then(|| cols.into_iter().collect())
}

/// The legend for the glyphs in `row`.
pub fn legend(row: &str) -> String {
    [
        MarkerKind::Rollout,
        MarkerKind::Rollback,
        MarkerKind::Resume,
        MarkerKind::Hold,
        MarkerKind::Release,
        MarkerKind::Concurrency,
        MarkerKind::Rate,
    ]
    .iter()
    .filter(|k| row.contains(k.glyph()))
    .map(|k| format!("{} {}", k.glyph(), format!("{k:?}").to_lowercase()))
    .collect::<Vec<_>>()
    .join("  ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::control::Origin;

    fn entry(at_ms: i64, action: &str, result: &str) -> AuditEntry {
        AuditEntry {
            at_ms,
            actor: "ann@ops".into(),
            origin: Origin::Cli,
            member_id: "m1".into(),
            action: action.into(),
            before: String::new(),
            after: "x".into(),
            result: result.into(),
        }
    }

    #[test]
    fn levers_that_took_are_marked_in_time_order() {
        let audit = vec![
            entry(3_000, "EMERGENCY ROLLBACK", "ok: rolled back"),
            entry(1_000, "concurrency up (fleet)", "ok: 12"),
            entry(2_000, "rollout 50%", "refused: no"),
            entry(2_500, "dlq replay 3", "ok"),
            entry(4_000, "max rate 50/s", "ok"),
            entry(500, "hold (fleet)", "ok"),
        ];
        let m = markers(&audit, 900);
        let kinds: Vec<MarkerKind> = m.iter().map(|m| m.kind).collect();
        assert_eq!(
            kinds,
            [
                MarkerKind::Concurrency,
                MarkerKind::Rollback,
                MarkerKind::Rate
            ]
        );
    }

    #[test]
    fn each_marker_sits_on_the_column_taken_at_or_after_it() {
        let audit = vec![
            entry(1_500, "hold (fleet)", "ok"),
            entry(3_500, "max rate 9/s", "ok"),
            entry(4_000, "release (fleet)", "ok"),
            entry(4_200, "concurrency 8 (fleet)", "ok"),
            entry(99_000, "rollout 10%", "ok"),
        ];
        let stamps: Vec<i64> = (0..6).map(|i| i * 1_000).collect();
        let m = markers(&audit, 0);
        assert_eq!(row(&m, &stamps, 6).as_deref(), Some("  H *C"));
        assert_eq!(legend("  H *C"), "H hold  C concurrency");
        // Only the last `width` points are shown.
        assert_eq!(row(&m, &stamps, 2), Some("hC".into()));
        assert_eq!(row(&m[..1], &stamps, 2), None);
    }
}
