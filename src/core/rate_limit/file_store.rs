//! A budget shared through a file by the processes of one machine: the same GCRA state as in
//! Redis, read and rewritten under an exclusive lock, with no server.
//!
//! The file is text, one line per account, so a person can look at it:
//!
//! ```text
//! helpcrunch-rate-limit v2: account tat_us seen_us throttled_rate throttled_at_us epoch low_rate released_at_us
//! 3f1c…(64 hex digits) 1764432000123456 1764431999623456 0 0 0 0 0
//! ```
//!
//! A v1 file (without `low_rate` and `released_at_us`) is read as well, and rewritten as v2. A version that knows
//! only v1 takes a v2 file for someone else's and paces alone, rather than misread it.
//!
//! Times are microseconds on the machine's wall clock (shared by its processes; a step back is
//! absorbed by `State::apply`). The account is the hash of the key, never the key. The lock is
//! `flock`-style (`File::try_lock`): it belongs to the open file, so two limiters in one
//! process exclude each other as two processes do, and it goes with the process if it dies.
//! A file that is not ours is never overwritten.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::account::AccountId;
use super::backend::StoreError;
use super::gcra::{Op, Reply, State, Tuning};

/// The first line of every budget file this version writes; a file that starts otherwise (or
/// as [`HEADER_V1`]) is not ours.
const HEADER: &str = "helpcrunch-rate-limit v2: account tat_us seen_us throttled_rate \
                      throttled_at_us epoch low_rate released_at_us";
/// The first line of a file of the versions before `low_rate`, whose lines lack it.
const HEADER_V1: &str =
    "helpcrunch-rate-limit v1: account tat_us seen_us throttled_rate throttled_at_us epoch";

/// How long an operation waits for another process to release the lock before the file counts
/// as unavailable. A holder keeps it for microseconds; only a stopped or hung one keeps it
/// longer, and no request waits on that.
const LOCK_WAIT: Duration = Duration::from_millis(500);

pub(crate) struct FileStore {
    path: PathBuf,
    account: AccountId,
}

impl FileStore {
    pub(crate) fn new(path: PathBuf, account: AccountId) -> Self {
        FileStore { path, account }
    }

    pub(crate) async fn run(
        &self,
        op: Op,
        ceiling: f64,
        tuning: &Tuning,
        retention: Duration,
    ) -> Result<Reply, StoreError> {
        let shown = self.path.display();
        let fail =
            |what: &str, e: std::io::Error| StoreError(format!("cannot {what} {shown}: {e}"));
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&self.path)
            .map_err(|e| fail("open", e))?;
        lock(&file, &self.path).await?;
        // The lock is released when `file` is closed, on every path out of here.
        let mut text = String::new();
        file.read_to_string(&mut text)
            .map_err(|e| fail("read", e))?;
        let mut entries = parse(&text, &self.path)?;
        let now = wall_clock_us();
        let index = match entries
            .iter()
            .position(|(id, _)| id == self.account.as_hex())
        {
            Some(i) => i,
            None => {
                entries.push((self.account.as_hex().to_string(), State::default()));
                entries.len() - 1
            }
        };
        let before = entries[index].1;
        let reply = entries[index].1.apply(op, now, ceiling, tuning);
        if entries[index].1 != before {
            let keep_us = i64::try_from(retention.as_micros()).unwrap_or(i64::MAX);
            let mine = self.account.as_hex();
            entries.retain(|(id, state)| {
                id == mine || state.tat > now || state.seen.saturating_add(keep_us) > now
            });
            let text = render(&entries);
            file.seek(SeekFrom::Start(0))
                .and_then(|_| file.write_all(text.as_bytes()))
                .and_then(|()| file.set_len(text.len() as u64))
                .map_err(|e| fail("write", e))?;
        }
        Ok(reply)
    }
}

/// Take the file's exclusive lock, polling, for at most [`LOCK_WAIT`].
async fn lock(file: &File, path: &Path) -> Result<(), StoreError> {
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Err(TryLockError::WouldBlock) => {
                return Err(StoreError(format!(
                    "{} stayed locked by another process for more than {} ms",
                    path.display(),
                    LOCK_WAIT.as_millis()
                )))
            }
            Err(TryLockError::Error(e)) => {
                return Err(StoreError(format!("cannot lock {}: {e}", path.display())))
            }
        }
    }
}

fn wall_clock_us() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_micros()).unwrap_or(i64::MAX)
}

/// The entries of a budget file. An empty file is a new one; a line that does not parse (a
/// write cut short) is dropped, which only forgets that account's pacing for a moment.
fn parse(text: &str, path: &Path) -> Result<Vec<(String, State)>, StoreError> {
    let mut lines = text.lines();
    let fields = match lines.next() {
        None => return Ok(Vec::new()),
        Some(first) if first == HEADER => 8,
        Some(first) if first == HEADER_V1 => 6,
        Some(_) => {
            return Err(StoreError(format!(
                "{} is not a helpcrunch rate limit file (its first line is not {HEADER:?}); \
                 it is left as it is: choose another path",
                path.display()
            )))
        }
    };
    let mut entries: Vec<(String, State)> = Vec::new();
    for line in lines {
        if let Some((id, state)) = parse_line(line, fields) {
            if !entries.iter().any(|(seen, _)| *seen == id) {
                entries.push((id, state));
            }
        }
    }
    Ok(entries)
}

/// One account's line of a file whose lines have `count` fields (8, or 6 in a v1 file).
fn parse_line(line: &str, count: usize) -> Option<(String, State)> {
    let mut fields = line.split(' ');
    let id = fields.next()?;
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let rate = |text: &str| {
        text.parse()
            .ok()
            .filter(|r: &f64| r.is_finite() && *r >= 0.0)
    };
    let tat = fields.next()?.parse().ok()?;
    let seen = fields.next()?.parse().ok()?;
    let throttled_rate = rate(fields.next()?)?;
    let throttled_at = fields.next()?.parse().ok()?;
    let state = State {
        tat,
        seen,
        throttled_rate,
        throttled_at,
        epoch: fields.next()?.parse().ok()?,
        low_rate: match count {
            8 => rate(fields.next()?)?,
            _ => 0.0,
        },
        // A v1 state's last release is its last decrease.
        released_at: match count {
            8 => fields.next()?.parse().ok()?,
            _ => throttled_at,
        },
    };
    fields.next().is_none().then(|| (id.to_string(), state))
}

fn render(entries: &[(String, State)]) -> String {
    let mut text = String::with_capacity(HEADER.len() + 1 + entries.len() * 128);
    text.push_str(HEADER);
    text.push('\n');
    for (id, s) in entries {
        text.push_str(&format!(
            "{id} {} {} {} {} {} {} {}\n",
            s.tat, s.seen, s.throttled_rate, s.throttled_at, s.epoch, s.low_rate, s.released_at
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_a_round_trip() {
        let id = "a".repeat(64);
        let state = State {
            tat: 1_764_432_000_123_456,
            seen: 1_764_431_999_623_456,
            throttled_rate: 84.0 + 1e-13,
            throttled_at: 1_764_431_990_000_000,
            epoch: 3,
            low_rate: 58.8 + 1e-13,
            released_at: 1_764_431_995_000_000,
        };
        let text = render(&[(id.clone(), state)]);
        assert_eq!(parse(&text, Path::new("x")).unwrap(), vec![(id, state)]);
    }

    #[test]
    fn a_v1_file_is_read_without_the_start_rate() {
        let id = "f".repeat(64);
        let text = format!(
            "{HEADER_V1}\n{id} 5 4 84 3 1\n{} 5 4 84 3 1 58.8 3\n",
            "a".repeat(64)
        );
        let entries = parse(&text, Path::new("x")).unwrap();
        let expected = State {
            tat: 5,
            seen: 4,
            throttled_rate: 84.0,
            throttled_at: 3,
            epoch: 1,
            low_rate: 0.0,
            released_at: 3,
        };
        assert_eq!(
            entries,
            vec![(id, expected)],
            "a v2 line in a v1 file is dropped"
        );
        assert!(render(&entries).starts_with(HEADER));
    }

    #[test]
    fn broken_lines_are_dropped_and_a_foreign_file_refused() {
        let good = format!("{} 1 2 0 0 0 0 0", "b".repeat(64));
        let text = format!(
            "{HEADER}\n{good}\n{} 1 2 0 0 0 0\nxyz 1 2 0 0 0 0 0\n{} 1 2 NaN 0 0 0 0\n\
             {} 1 2 0 0 0 7 8 9\n{} 1 2 0 0 0 -1 0\n",
            "c".repeat(64),
            "d".repeat(64),
            "e".repeat(64),
            "9".repeat(64)
        );
        let entries = parse(&text, Path::new("x")).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].0, "b".repeat(64));
        let err = parse(
            "root:x:0:0:root:/root:/bin/bash\n",
            Path::new("/etc/passwd"),
        )
        .unwrap_err();
        assert!(
            err.0.contains("not a helpcrunch rate limit file"),
            "{}",
            err.0
        );
    }
}
