//! The `:` command palette: `rollout 25`, `concurrency 40`, `replay all`,
//! `backfill sync`, … Destructive ones open a confirm dialog first.

use crate::engine::dlq::DlqFilter;
use crate::engine::fleet::levers;
use crate::engine::fleet::levers::{Command, JobAction, RolloutChange};

#[derive(Debug, Clone, PartialEq)]
pub enum PaletteAction {
    Engine(Command),
    /// Dry run first, then confirm.
    /// The filter, and whether past the loop guard (`force`).
    ConfirmReplay(DlqFilter, bool),
    ConfirmPurge(DlqFilter),
    Rollback,
    Theme(String),
    /// Show a saved view (DLQ filter and layout).
    View(String),
    /// Save this console's filter and layout as a view.
    ViewSave(String),
    Audit,
    /// A redrive job lever: this job, or the newest unfinished one.
    Job(JobAction, Option<String>),
    Quit,
}

pub const HELP: &[(&str, &str)] = &[
    (
        "rollout PCT | rollout on | rollout off",
        "set the rollout percentage / kill switch",
    ),
    (
        "enable PROJECT | disable PROJECT",
        "always-async project list",
    ),
    ("concurrency N", "enrichments at once"),
    ("pause | run", "stop / start fetching in this console"),
    (
        "replay | replay all [force]",
        "replay the filtered / every DLQ entry (confirm); force: past the loop guard",
    ),
    (
        "purge | purge all",
        "drop the filtered / every DLQ entry (confirm)",
    ),
    ("backfill [sync] [PROJECT]", "re-drive pending documents"),
    ("rollback | resume", "emergency rollback / undo it"),
    (
        "rate N | rate off",
        "MAX_PROCESSING_RATE: messages a second per member",
    ),
    (
        "hold | release [MEMBER]",
        "hold / release the fleet or one member",
    ),
    ("reset breaker", "force the circuit breaker CLOSED"),
    (
        "seek earliest|latest|offset N|time T",
        "reset the group's offsets [partitions 0,3] (preview, type the group id)",
    ),
    (
        "faults RATE [LATENCY_MS]",
        "rehearsal: inject failures / latency",
    ),
    ("theme NAME", "dark, light, high-contrast or your own"),
    (
        "view NAME | view save NAME",
        "a saved DLQ filter and layout (archon-tui views)",
    ),
    ("audit", "the fleet's audit trail (also A)"),
    (
        "export FILE [mask] | import FILE",
        "filtered DLQ entries to JSON Lines / back in",
    ),
    (
        "job pause|resume|cancel [ID]",
        "steer a redrive job (default: the newest running one)",
    ),
    ("job rate N [ID]", "a redrive job's entries a second"),
    (
        "history [6h]",
        "lag, throughput, DLQ and breaker over 30m..3d",
    ),
    (
        "doctor",
        "check brokers, topics, group, graph schema, Qdrant, the service, the data dir",
    ),
    ("quit", "stop the engine cleanly and leave"),
];

fn number<T: std::str::FromStr>(word: Option<&str>, what: &str) -> Result<T, String> {
    let w = word.ok_or_else(|| format!("{what} needs a number"))?;
    w.parse()
        .map_err(|_| format!("{what}: {w:?} is not a valid number"))
}

/// `earliest | latest | offset N | time T`, then `partitions 0,3` or none:
/// a dry run, whose preview opens the typed confirmation.
fn reset_offsets(words: &[&str]) -> Result<PaletteAction, String> {
    let (target, partitions) = match words.iter().position(|w| *w == "partitions") {
        Some(i) => {
            let list = words.get(i + 1).ok_or("partitions: give them as 0,3")?;
            let parts = list
                .split(',')
                .map(|p| {
                    p.trim()
                        .parse::<i32>()
                        .ok()
                        .filter(|p| *p >= 0)
                        .ok_or_else(|| format!("partitions: {p:?} is not a partition number"))
                })
                .collect::<Result<Vec<i32>, String>>()?;
            (&words[..i], Some(parts))
        }
        None => (words, None),
    };
    Ok(PaletteAction::Engine(Command::ResetOffsets(
        levers::ResetOffsets {
            target: crate::engine::fleet::group_reset::ResetTarget::parse(target)?,
            partitions,
            dry_run: true,
            confirm: None,
            actor: crate::identity::actor(),
        },
    )))
}

pub fn parse(input: &str, current_filter: &DlqFilter) -> Result<PaletteAction, String> {
    let words: Vec<&str> = input.split_whitespace().collect();
    let rest = words.get(1).copied();
    let engine = |c| Ok(PaletteAction::Engine(c));
    match words.first().map(|w| w.to_ascii_lowercase()).as_deref() {
        None => Err("type a command; `?` lists them".into()),
        Some("rollout") => match rest {
            Some("on") => engine(Command::SetRollout(RolloutChange {
                enabled: Some(true),
                ..Default::default()
            })),
            Some("off") => engine(Command::SetRollout(RolloutChange {
                enabled: Some(false),
                ..Default::default()
            })),
            _ => {
                let p: u8 = number(rest, "rollout")?;
                if p > 100 {
                    return Err(format!("rollout must be 0..=100, got {p}"));
                }
                engine(Command::SetRollout(RolloutChange {
                    percentage: Some(p),
                    ..Default::default()
                }))
            }
        },
        Some(verb @ ("enable" | "disable")) => {
            let p = rest.ok_or("name the project")?.to_string();
            let change = if verb == "enable" {
                RolloutChange {
                    enable_project: Some(p),
                    ..Default::default()
                }
            } else {
                RolloutChange {
                    disable_project: Some(p),
                    ..Default::default()
                }
            };
            engine(Command::SetRollout(change))
        }
        Some("concurrency") => {
            let n: usize = number(rest, "concurrency")?;
            if !(1..=crate::engine::MAX_CONCURRENCY).contains(&n) {
                return Err(format!(
                    "concurrency must be 1..={}, got {n}",
                    crate::engine::MAX_CONCURRENCY
                ));
            }
            engine(Command::SetConcurrency(levers::SetConcurrency {
                n,
                member: None,
                nudge: None,
            }))
        }
        Some("rate") => engine(Command::SetMaxRate(levers::SetMaxRate {
            per_sec: crate::engine::fleet::levers::parse_rate(
                rest.ok_or("rate N (messages a second) or rate off")?,
            )
            .map_err(|e| e.to_string())?,
        })),
        Some(verb @ ("hold" | "release")) => engine(Command::Hold(levers::Hold {
            member: rest.map(str::to_string),
            held: verb == "hold",
        })),
        Some("pause") => engine(Command::Pause(levers::Pause)),
        Some("run") => engine(Command::Run(levers::Run)),
        Some("resume") => engine(Command::Resume(levers::Resume)),
        Some("rollback") => Ok(PaletteAction::Rollback),
        Some("reset") if rest == Some("offsets") => reset_offsets(&words[2..]),
        Some("seek") => reset_offsets(&words[1..]),
        Some("reset") => engine(Command::ResetBreaker(levers::ResetBreaker { member: None })),
        Some("replay") => Ok(PaletteAction::ConfirmReplay(
            if words.contains(&"all") {
                DlqFilter::default()
            } else {
                current_filter.clone()
            },
            words.contains(&"force"),
        )),
        Some("purge") => Ok(PaletteAction::ConfirmPurge(if rest == Some("all") {
            DlqFilter::default()
        } else {
            current_filter.clone()
        })),
        Some("backfill") => {
            let sync = words.contains(&"sync");
            let project = words
                .iter()
                .skip(1)
                .find(|w| **w != "sync")
                .map(|s| s.to_string());
            engine(Command::Backfill(levers::Backfill {
                project,
                rate: None,
                sync,
            }))
        }
        Some("faults") => {
            let rate: f64 = number(rest, "faults")?;
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("failure rate must be 0..=1, got {rate}"));
            }
            let latency_ms = match words.get(2) {
                Some(w) => number(Some(w), "latency")?,
                None => 0,
            };
            engine(Command::InjectFaults(levers::InjectFaults {
                failure_rate: rate,
                latency_ms,
            }))
        }
        Some("theme") => Ok(PaletteAction::Theme(
            rest.ok_or("name the theme")?.to_string(),
        )),
        Some("view") => match (rest, words.get(2)) {
            (Some("save"), Some(name)) => {
                crate::config::views::check_name(name)?;
                Ok(PaletteAction::ViewSave(name.to_string()))
            }
            (Some("save"), None) => Err("view save NAME".into()),
            (Some(name), None) => Ok(PaletteAction::View(name.to_string())),
            _ => Err("view NAME | view save NAME".into()),
        },
        Some("audit") => Ok(PaletteAction::Audit),
        Some("doctor") => engine(Command::Doctor(levers::Doctor)),
        Some("history") => engine(Command::History(levers::History {
            window_ms: crate::ports::history::parse_window(rest.unwrap_or("6h"))?,
        })),
        Some("export") => engine(Command::ExportDlq(levers::ExportDlq {
            filter: current_filter.clone(),
            path: rest.ok_or("export FILE [mask]")?.into(),
            mask: words.get(2).filter(|w| **w == "mask").map(|_| {
                crate::engine::dlq::transfer::DEFAULT_MASKED
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            }),
        })),
        Some("import") => engine(Command::ImportDlq(levers::ImportDlq {
            path: rest.ok_or("import FILE")?.into(),
            dry_run: false,
        })),
        Some("job" | "jobs") => {
            let id = |at: usize| words.get(at).map(|s| s.to_string());
            match rest {
                Some("pause") => Ok(PaletteAction::Job(JobAction::Pause, id(2))),
                Some("resume") => Ok(PaletteAction::Job(JobAction::Resume, id(2))),
                Some("cancel") => Ok(PaletteAction::Job(JobAction::Cancel, id(2))),
                Some("rate") => Ok(PaletteAction::Job(
                    JobAction::Rate(number(words.get(2).copied(), "job rate")?),
                    id(3),
                )),
                _ => Err("job pause|resume|cancel [ID] or job rate N [ID]".into()),
            }
        }
        Some("quit" | "q") => Ok(PaletteAction::Quit),
        Some(other) => Err(match did_you_mean(other) {
            Some(verb) => format!(
                "unknown command {:?}; did you mean `{verb}`? (`?` lists them)",
                crate::sanitize::clean(other)
            ),
            None => format!(
                "unknown command {:?}; `?` lists them",
                crate::sanitize::clean(other)
            ),
        }),
    }
}

/// Every verb the palette knows: the first word of each `?` line's forms.
fn verbs() -> Vec<&'static str> {
    let mut v: Vec<&str> = HELP
        .iter()
        .flat_map(|(usage, _)| usage.split('|'))
        .filter_map(|form| form.split_whitespace().next())
        .filter(|w| w.chars().all(|c| c.is_ascii_lowercase()))
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The literal beginnings of every `?` form: "rollout on", "reset breaker",
/// "replay all" … (the words before the first argument).
fn forms() -> Vec<String> {
    let mut v: Vec<String> = HELP
        .iter()
        .flat_map(|(usage, _)| usage.split('|'))
        .map(|form| {
            form.split_whitespace()
                .take_while(|w| w.chars().all(|c| c.is_ascii_lowercase()))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|f| !f.is_empty())
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Tab in the palette: `typed` completed as far as the forms that start
/// with it agree (with a space when one form is left), and those forms.
pub fn complete(typed: &str) -> (String, Vec<String>) {
    let lower = typed.trim_start().to_ascii_lowercase();
    let fits: Vec<String> = forms()
        .into_iter()
        .filter(|f| f.starts_with(&lower) && f.len() > lower.len())
        .collect();
    let Some(first) = fits.first() else {
        return (typed.to_string(), fits);
    };
    let common = fits.iter().fold(first.clone(), |acc, f| {
        acc.chars()
            .zip(f.chars())
            .take_while(|(a, b)| a == b)
            .map(|(a, _)| a)
            .collect()
    });
    let text = if fits.len() == 1 {
        format!("{common} ")
    } else {
        common
    };
    (text, fits)
}

/// The known verb closest to a mistyped one, when one is close.
fn did_you_mean(typed: &str) -> Option<&'static str> {
    let typed = typed.to_ascii_lowercase();
    verbs()
        .into_iter()
        .map(|v| (strsim::jaro_winkler(&typed, v), v))
        .filter(|(score, _)| *score >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tab_completes_as_far_as_the_forms_agree() {
        assert_eq!(complete("resu").0, "resume ");
        let (text, choices) = complete("ro");
        assert_eq!(text, "roll", "rollback and rollout share 'roll'");
        assert!(choices.contains(&"rollback".to_string()), "{choices:?}");
        assert!(choices.contains(&"rollout".to_string()), "{choices:?}");
        assert_eq!(complete("reset b").0, "reset breaker ");
        assert_eq!(complete("zzz").0, "zzz", "nothing fits: unchanged");
        assert!(complete("zzz").1.is_empty());
    }

    #[test]
    fn a_typo_gets_a_did_you_mean() {
        let f = DlqFilter::default();
        let e = parse("resme", &f).unwrap_err();
        assert!(e.contains("did you mean `resume`"), "{e}");
        let e = parse("rolout 5", &f).unwrap_err();
        assert!(e.contains("did you mean `rollout`"), "{e}");
        let e = parse("frobnicate", &f).unwrap_err();
        assert!(!e.contains("did you mean"), "{e}");
    }

    /// Each lever's spec names its palette verbs: the palette must know
    /// them and `?` must list them (a lever added without them fails here).
    #[test]
    fn every_palette_verb_a_lever_names_is_parsed_and_listed() {
        let f = DlqFilter::default();
        for spec in crate::engine::fleet::levers::SPECS {
            for verb in spec.palette {
                if let Err(e) = parse(verb, &f) {
                    assert!(
                        !e.starts_with("unknown command"),
                        "lever {}: the palette does not know `{verb}`",
                        spec.name
                    );
                }
                assert!(
                    HELP.iter().any(|(usage, _)| usage
                        .split(|c: char| !c.is_ascii_alphanumeric())
                        .any(|w| w == *verb)),
                    "lever {}: `?` does not list `{verb}`",
                    spec.name
                );
            }
        }
    }

    #[test]
    fn parses_offset_resets_and_keeps_reset_breaker() {
        use crate::engine::fleet::group_reset::ResetTarget;
        let f = DlqFilter::default();
        let target_of = |text: &str| match parse(text, &f) {
            Ok(PaletteAction::Engine(Command::ResetOffsets(levers::ResetOffsets {
                target,
                partitions,
                dry_run: true,
                confirm: None,
                ..
            }))) => Ok((target, partitions)),
            other => Err(format!("{other:?}")),
        };
        assert_eq!(
            target_of("reset offsets earliest"),
            Ok((ResetTarget::Earliest, None))
        );
        assert_eq!(
            target_of("seek offset 7 partitions 0,3"),
            Ok((ResetTarget::Offset(7), Some(vec![0, 3])))
        );
        assert_eq!(
            target_of("seek time 2026-12-01T10:00:00Z"),
            Ok((ResetTarget::Time(1_796_119_200_000), None))
        );
        assert!(parse("seek sideways", &f).is_err());
        assert!(parse("seek latest partitions x", &f).is_err());
        assert_eq!(
            parse("reset breaker", &f),
            Ok(PaletteAction::Engine(Command::ResetBreaker(
                levers::ResetBreaker { member: None }
            )))
        );
    }

    #[test]
    fn parses_job_levers() {
        let f = DlqFilter::default();
        assert_eq!(
            parse("job pause", &f),
            Ok(PaletteAction::Job(JobAction::Pause, None))
        );
        assert_eq!(
            parse("job rate 50 r1234", &f),
            Ok(PaletteAction::Job(
                JobAction::Rate(50.0),
                Some("r1234".into())
            ))
        );
        assert!(parse("job rate fast", &f).is_err());
        assert!(parse("job", &f).is_err());
    }

    #[test]
    fn parses_the_commands_of_the_issue() {
        let f = DlqFilter::default();
        assert_eq!(
            parse("rollout 25", &f),
            Ok(PaletteAction::Engine(Command::SetRollout(RolloutChange {
                percentage: Some(25),
                ..Default::default()
            })))
        );
        assert_eq!(
            parse("concurrency 40", &f),
            Ok(PaletteAction::Engine(Command::SetConcurrency(
                levers::SetConcurrency {
                    n: 40,
                    member: None,
                    nudge: None
                }
            )))
        );
        assert_eq!(
            parse("replay all", &f),
            Ok(PaletteAction::ConfirmReplay(DlqFilter::default(), false))
        );
        assert_eq!(
            parse("backfill sync web", &f),
            Ok(PaletteAction::Engine(Command::Backfill(levers::Backfill {
                project: Some("web".into()),
                rate: None,
                sync: true
            })))
        );
        assert_eq!(parse("rollback", &f), Ok(PaletteAction::Rollback));
        for bad in [
            "rollout 101",
            "concurrency 0",
            "concurrency 1000000000",
            "faults 2",
            "frobnicate",
            "",
            "rollout x",
        ] {
            assert!(parse(bad, &f).is_err(), "{bad}");
        }
    }
}
