//! A watched tree stays fresh: a full ingest first (the index mirrors the
//! tree), then every change re-indexed as it happens — notify's events,
//! debounced (notify-debouncer-full joins an editor's write-temp-then-rename
//! into one change), filtered by the same ignore rules as a walk, and taken
//! in batches (a `git checkout` of thousands of files is a few graph writes,
//! not one per file). Deletes propagate; a moved file keeps its enrichment.
//! A watched directory that vanishes is reported and waited for; its
//! documents are kept, and it is mirrored again when it comes back.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::Match;
use notify::{EventKind, RecursiveMode};
use serde::Serialize;

use crate::engine::pipeline::discover::walk;
use crate::engine::pipeline::mirror::{self, Carry};
use crate::engine::pipeline::producer::{self, IngestReport, Tree};
use crate::engine::Engine;
use crate::ports::graph::{DocumentSource, TreeDocument};
use crate::sanitize::clean;

/// How long a path must be quiet before its change is taken: short enough
/// for an edit to be enriched within a second, long enough to join an
/// editor's save (temp file, rename) into one change.
pub const DEBOUNCE: Duration = Duration::from_millis(150);
/// Files indexed in one graph write at most (fewer when they pass
/// `producer::BATCH_BYTES`).
const BATCH: usize = 1000;

/// The trees this engine watches, for the console's header and `/health`.
#[derive(Default)]
pub struct Watches(Mutex<Vec<Arc<WatchState>>>);

pub struct WatchState {
    pub root: PathBuf,
    pub project: String,
    vanished: AtomicBool,
    /// The first mirror is done: changes are being followed.
    synced: AtomicBool,
    /// Changed paths taken (after debouncing and ignore rules).
    changes: AtomicU64,
    samples: Mutex<VecDeque<(Instant, u64)>>,
}

/// One watched tree as the console shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WatchView {
    pub root: String,
    pub project: String,
    /// The directory is gone; its documents are kept until it is back.
    pub vanished: bool,
    /// Its first mirror is done; changes are followed as they happen.
    pub synced: bool,
    pub changes: u64,
    pub changes_per_sec: f64,
}

impl Watches {
    fn add(&self, root: PathBuf, project: String) -> Arc<WatchState> {
        let state = Arc::new(WatchState {
            root,
            project,
            vanished: AtomicBool::new(false),
            synced: AtomicBool::new(false),
            changes: AtomicU64::new(0),
            samples: Mutex::new(VecDeque::new()),
        });
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(state.clone());
        state
    }

    pub fn views(&self, window: Duration) -> Vec<WatchView> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|w| {
                let changes = w.changes.load(Ordering::Relaxed);
                WatchView {
                    root: w.root.display().to_string(),
                    project: w.project.clone(),
                    vanished: w.vanished.load(Ordering::Relaxed),
                    synced: w.synced.load(Ordering::Relaxed),
                    changes,
                    changes_per_sec: crate::engine::telemetry::stats::sliding_rate(
                        &w.samples, changes, window,
                    ),
                }
            })
            .collect()
    }
}

/// A tree's root as a panel shows it: its last two path parts, enough to
/// tell trees apart ("/home/op/src/web" → "src/web").
pub fn short_root(root: &str) -> String {
    let mut tail: Vec<&str> = root.rsplit('/').take(2).collect();
    tail.reverse();
    tail.join("/")
}

/// Watch in the background, reporting to the log (console, `serve`).
pub fn spawn_watch(
    engine: &Arc<Engine>,
    root: PathBuf,
    project: String,
) -> tokio::task::JoinHandle<()> {
    let engine = engine.clone();
    tokio::spawn(async move {
        if let Err(e) = watch(&engine, &root, &project, &|_| {}).await {
            tracing::error!("watch failed: {}", clean(&format!("{e:#}")));
        }
    })
}

/// What one batch of changes did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ChangeReport {
    /// Changed paths taken (files, or directories walked).
    pub changed: u64,
    pub indexed: u64,
    pub unchanged: u64,
    pub deleted: u64,
    pub renamed: u64,
    pub published: u64,
    pub enriched_sync: u64,
    /// The changed files' paths relative to the root (the first
    /// `FOLLOWED`), followed until enriched.
    #[serde(skip)]
    pub files: Vec<String>,
}

/// Changed files of a batch whose enrichment is followed and logged.
const FOLLOWED: usize = 100;

/// Mirror `root` into project `project`, then keep it fresh until the
/// engine stops. `each` hears every batch of changes.
pub async fn watch(
    engine: &Arc<Engine>,
    root: &Path,
    project: &str,
    each: &(dyn Fn(&ChangeReport) + Sync),
) -> Result<()> {
    crate::model::check_project_name(project).map_err(anyhow::Error::msg)?;
    let root =
        std::fs::canonicalize(root).with_context(|| format!("cannot watch {}", root.display()))?;
    if !root.is_dir() {
        bail!("cannot watch {}: not a directory", root.display());
    }
    let state = engine.watches.add(root.clone(), project.to_string());
    let shown = clean(&root.display().to_string());
    loop {
        match watch_until_vanished(engine, &state, each).await? {
            Ended::Stopped => return Ok(()),
            Ended::Vanished => {}
        }
        state.vanished.store(true, Ordering::Relaxed);
        tracing::warn!(
            "watched directory {shown} is gone: its documents are kept; watching for it to come back"
        );
        loop {
            if engine.sleep_or_stop(Duration::from_secs(1)).await {
                return Ok(());
            }
            if root.is_dir() {
                break;
            }
        }
        state.vanished.store(false, Ordering::Relaxed);
        tracing::info!("watched directory {shown} is back: mirroring it again");
    }
}

enum Ended {
    Stopped,
    Vanished,
}

async fn watch_until_vanished(
    engine: &Arc<Engine>,
    state: &WatchState,
    each: &(dyn Fn(&ChangeReport) + Sync),
) -> Result<Ended> {
    let root = &state.root;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut debouncer = notify_debouncer_full::new_debouncer(
        DEBOUNCE,
        None,
        move |r: notify_debouncer_full::DebounceEventResult| {
            // The receiver is gone only when the watch has ended.
            tx.send(r).ok();
        },
    )
    .context("cannot start watching files")?;
    debouncer
        .watch(root, RecursiveMode::Recursive)
        .with_context(|| format!("cannot watch {}", root.display()))?;
    // The mirror after the watch is set: a change made while it runs is
    // taken after it (at worst read twice, then `unchanged`), never missed.
    let r = producer::ingest(engine, root, &state.project, &|_| {}).await?;
    tracing::info!(
        "watching {} as {}: {} files, {} indexed, {} deleted, {} renamed",
        clean(&root.display().to_string()),
        clean(&state.project),
        r.discovered,
        r.indexed,
        r.deleted,
        r.renamed
    );
    state.synced.store(true, Ordering::Relaxed);
    let mut rules = IgnoreRules::new(root);
    let mut stop = engine.stop_watch();
    loop {
        let first = tokio::select! {
            _ = stop.wait_for(|s| *s) => return Ok(Ended::Stopped),
            r = rx.recv() => match r {
                Some(r) => r,
                None => bail!("the file watcher ended"),
            },
        };
        // Everything that arrived meanwhile joins this batch.
        let mut paths = BTreeSet::new();
        let mut take = |r: notify_debouncer_full::DebounceEventResult| match r {
            Ok(events) => {
                for e in events {
                    if matches!(e.kind, EventKind::Access(a) if a != notify::event::AccessKind::Close(notify::event::AccessMode::Write))
                    {
                        continue;
                    }
                    paths.extend(e.event.paths.iter().cloned());
                }
            }
            Err(errors) => {
                for e in errors {
                    tracing::warn!(
                        "watching {}: {}",
                        clean(&root.display().to_string()),
                        clean(&e.to_string())
                    );
                }
            }
        };
        take(first);
        while let Ok(r) = rx.try_recv() {
            take(r);
        }
        if !root.is_dir() {
            return Ok(Ended::Vanished);
        }
        if paths.is_empty() {
            continue;
        }
        let report = apply_changes(engine, state, &mut rules, paths).await?;
        if report.changed > 0 {
            state.changes.fetch_add(report.changed, Ordering::Relaxed);
            tracing::info!(
                "{}: {} changed, {} indexed, {} deleted, {} renamed",
                clean(&state.project),
                report.changed,
                report.indexed,
                report.deleted,
                report.renamed
            );
            each(&report);
            if report.indexed > 0 {
                tokio::spawn(follow(
                    engine.clone(),
                    state.project.clone(),
                    report.files,
                    Instant::now(),
                ));
            }
        }
    }
}

/// Log when a batch's changed files are enriched (or parked), so whoever
/// edited one sees it land: "enriched after a change: src/a.rs in 0.41 s".
/// Gives up quietly after a minute (a hold, an outage: the panels say why).
async fn follow(engine: Arc<Engine>, project: String, files: Vec<String>, since: Instant) {
    let ids: Vec<(String, String)> = files
        .into_iter()
        .map(|f| (producer::document_id(&project, &f), f))
        .collect();
    let deadline = since + Duration::from_secs(60);
    let mut open: Vec<(String, String)> = ids;
    let mut enriched = Vec::new();
    let mut parked = 0;
    while !open.is_empty() && Instant::now() < deadline {
        if engine.sleep_or_stop(Duration::from_millis(25)).await {
            return;
        }
        let mut still = Vec::new();
        for (id, path) in open {
            match engine.backends.graph.get_document(&id).await {
                Ok(Some(d)) if d.is_enriched_for(&d.content_hash) => enriched.push(path),
                Ok(Some(d)) if d.enrichment_status == crate::model::Status::Dlq => parked += 1,
                Ok(None) => {}
                _ => still.push((id, path)),
            }
        }
        open = still;
    }
    if enriched.is_empty() && parked == 0 {
        return;
    }
    let took = since.elapsed().as_secs_f64();
    let what = match enriched.as_slice() {
        [one] => clean(one),
        many => format!("{} files", many.len()),
    };
    let dlq = if parked > 0 {
        format!(" ({parked} in the DLQ)")
    } else {
        String::new()
    };
    tracing::info!(
        "{}: enriched after a change: {what} in {took:.2} s{dlq}",
        clean(&project)
    );
}

/// Re-index the files among `paths` (directories are walked), and remove
/// the documents of those gone.
async fn apply_changes(
    engine: &Arc<Engine>,
    state: &WatchState,
    rules: &mut IgnoreRules,
    paths: BTreeSet<PathBuf>,
) -> Result<ChangeReport> {
    let root = &state.root;
    // Stats, ignore files and walks of moved-in directories touch the disk:
    // they run off the runtime's workers, as a tree ingest's walk does.
    let owned_rules = std::mem::replace(rules, IgnoreRules::new(root));
    let walk_root = root.clone();
    let (files, gone, owned_rules) = tokio::task::spawn_blocking(move || {
        let mut rules = owned_rules;
        let (files, gone) = changed_files(&walk_root, &mut rules, paths);
        (files, gone, rules)
    })
    .await
    .context("the watcher's file scan stopped")?;
    *rules = owned_rules;
    let mut report = ChangeReport {
        changed: (files.len() + gone.len()) as u64,
        ..Default::default()
    };
    if report.changed == 0 {
        return Ok(report);
    }
    let source = DocumentSource::Tree {
        root: root.to_string_lossy().into_owned(),
    };
    // The documents of paths that are gone (a file, or a directory's files).
    let gone_docs: Vec<TreeDocument> = if gone.is_empty() {
        Vec::new()
    } else {
        engine
            .backends
            .graph
            .tree_documents(&state.project, source.root().unwrap_or_default())
            .await?
            .into_iter()
            .filter(|d| {
                gone.iter().any(|g| {
                    d.source_path == *g
                        || (d.source_path.starts_with(g.as_str())
                            && d.source_path[g.len()..].starts_with('/'))
                }) && !root.join(&d.source_path).exists()
            })
            .collect()
    };
    let tree = Tree {
        root,
        project: &state.project,
        source: &source,
    };
    let mut ingest = IngestReport::default();
    let mut carry = Carry::new(root, &gone_docs);
    let mut seen = HashSet::new();
    report.files = files
        .iter()
        .take(FOLLOWED)
        .filter_map(|(f, _)| f.strip_prefix(root).ok())
        .map(|r| r.to_string_lossy().replace('\\', "/"))
        .collect();
    engine.stats.watched_files.inc_by(files.len() as u64);
    // Cut by bytes as well as by count, as a tree ingest is (a directory of
    // generated files checked out at once).
    let mut batch = producer::Batcher::new(BATCH, engine.cfg.max_file_bytes);
    let last = files.len().saturating_sub(1);
    for (i, (file, size)) in files.into_iter().enumerate() {
        if batch.push(file, size) || i == last {
            producer::index_batch(
                engine,
                &tree,
                batch.take(),
                &mut ingest,
                &mut carry,
                &mut seen,
            )
            .await?;
        }
    }
    let carried = std::mem::take(&mut carry.taken);
    // A directory being removed whole (the watched root with it) is not
    // taken for deleting its files: the next batch sees it vanished.
    if root.is_dir() {
        mirror::remove(engine, gone_docs, &carried, &mut ingest).await?;
    }
    report.indexed = ingest.indexed;
    report.unchanged = ingest.unchanged;
    report.deleted = ingest.deleted;
    report.renamed = ingest.renamed;
    report.published = ingest.published;
    report.enriched_sync = ingest.enriched_sync;
    Ok(report)
}

/// Which of `paths` are files to index (with their sizes, in path order;
/// directories are walked) and which are gone, as paths relative to `root`.
/// Blocking: it stats, reads ignore files and walks.
fn changed_files(
    root: &Path,
    rules: &mut IgnoreRules,
    paths: BTreeSet<PathBuf>,
) -> (Vec<(PathBuf, u64)>, Vec<String>) {
    let mut files = BTreeSet::new();
    let mut gone = Vec::new();
    for p in paths {
        let Ok(rel) = p.strip_prefix(root) else {
            continue;
        };
        if rel.as_os_str().is_empty() {
            continue;
        }
        if matches!(
            p.file_name().and_then(|n| n.to_str()),
            Some(".gitignore" | ".ignore")
        ) {
            rules.forget();
        }
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_file() && !rules.ignored(&p, false) => {
                files.insert(p);
            }
            Ok(m) if m.is_dir() && !rules.ignored(&p, true) => {
                // A directory moved in or checked out: its files may have
                // no events of their own.
                files.extend(walk(&p).filter_map(|f| f.ok()));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                gone.push(rel.to_string_lossy().replace('\\', "/"));
            }
            _ => {}
        }
    }
    let files = files
        .into_iter()
        .map(|f| {
            let size = producer::file_size(&f);
            (f, size)
        })
        .collect();
    (files, gone)
}

/// The walk's ignore rules for single paths: hidden names, and each
/// directory's `.gitignore` and `.ignore` from the root down (the deepest
/// that matches decides, `!` patterns included), read once and kept until
/// one of those files changes.
struct IgnoreRules {
    root: PathBuf,
    by_dir: HashMap<PathBuf, Gitignore>,
}

impl IgnoreRules {
    fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
            by_dir: HashMap::new(),
        }
    }

    fn forget(&mut self) {
        self.by_dir.clear();
    }

    fn ignored(&mut self, path: &Path, is_dir: bool) -> bool {
        let Ok(rel) = path.strip_prefix(&self.root) else {
            return true;
        };
        if rel
            .components()
            .any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
        {
            return true;
        }
        // The directories from the root to the path's parent, deepest first.
        let mut dirs: Vec<PathBuf> = path
            .ancestors()
            .skip(1)
            .take_while(|d| d.starts_with(&self.root))
            .map(Path::to_path_buf)
            .collect();
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for dir in dirs {
            let rules = self.by_dir.entry(dir.clone()).or_insert_with(|| {
                let mut b = GitignoreBuilder::new(&dir);
                for name in [".gitignore", ".ignore"] {
                    let f = dir.join(name);
                    if f.is_file() {
                        b.add(f);
                    }
                }
                b.build().unwrap_or_else(|_| Gitignore::empty())
            });
            match rules.matched_path_or_any_parents(path, is_dir) {
                Match::Ignore(_) => return true,
                Match::Whitelist(_) => return false,
                Match::None => {}
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::IgnoreRules;

    #[test]
    fn single_paths_follow_the_walks_ignore_rules() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::write(root.join(".gitignore"), "target/\n*.log\n").unwrap();
        std::fs::create_dir_all(root.join("sub/deep")).unwrap();
        std::fs::write(root.join("sub/.gitignore"), "!keep.log\nlocal.rs\n").unwrap();
        let mut r = IgnoreRules::new(&root);
        assert!(r.ignored(&root.join("target/x.rs"), false));
        assert!(r.ignored(&root.join("a.log"), false));
        assert!(r.ignored(&root.join(".hidden/x.rs"), false));
        assert!(r.ignored(&root.join(".x.rs.swp"), false));
        assert!(!r.ignored(&root.join("src/lib.rs"), false));
        assert!(r.ignored(&root.join("sub/local.rs"), false));
        assert!(r.ignored(&root.join("sub/deep/local.rs"), false));
        assert!(!r.ignored(&root.join("sub/keep.log"), false));
        assert!(r.ignored(&root.join("target"), true));
    }
}
