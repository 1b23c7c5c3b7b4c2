//! A comparison as `results.json`, `results.csv` and `report.md`: the same figures, for programs, spreadsheets
//! and pull requests. Every number is formatted the same way on every machine.

use super::{CellSummary, Comparison};
use crate::compare::metrics::Percentiles;
use std::fmt::Write as _;

pub fn json(c: &Comparison) -> String {
    let mut text = serde_json::to_string_pretty(c).unwrap_or_else(|e| unreachable!("plain data serialises: {e}"));
    text.push('\n');
    text
}

/// The columns of `results.csv`, one row per cell.
const CSV_COLUMNS: [&str; 28] = [
    "cell",
    "overrides",
    "seeds",
    "sent",
    "acked",
    "lost",
    "lost_share_of_acked",
    "seeds_with_loss",
    "seeds_with_loss_share",
    "seeds_with_loss_ci95_low",
    "seeds_with_loss_ci95_high",
    "undelivered",
    "duplicate_writes",
    "duplicate_deliveries",
    "order_violations",
    "failed",
    "failed_share_of_sent",
    "produce_p50_ms",
    "produce_p99_ms",
    "produce_p999_ms",
    "end_to_end_p50_ms",
    "end_to_end_p99_ms",
    "throughput_per_s",
    "elections_per_seed",
    "offline_s_per_seed",
    "isr_recovery_p99_ms",
    "rebalances_per_seed",
    "rebalance_p99_ms",
];

pub fn csv(c: &Comparison) -> String {
    let mut out = CSV_COLUMNS.join(",");
    out.push('\n');
    for cell in &c.cells {
        let p = |x: Option<Percentiles>, f: fn(&Percentiles) -> f64| x.as_ref().map_or(String::new(), |x| num(f(x)));
        let row = [
            csv_field(&cell.name),
            csv_field(&cell.overrides.join(" ")),
            cell.seeds.to_string(),
            cell.sent.to_string(),
            cell.acked.to_string(),
            cell.lost.to_string(),
            num(cell.lost_share_of_acked),
            cell.seeds_with_loss.to_string(),
            num(cell.seeds_with_loss_share),
            num(cell.seeds_with_loss_ci95[0]),
            num(cell.seeds_with_loss_ci95[1]),
            cell.undelivered.to_string(),
            cell.duplicate_writes.to_string(),
            cell.duplicate_deliveries.to_string(),
            cell.order_violations.to_string(),
            cell.failed.to_string(),
            num(cell.failed_share_of_sent),
            p(cell.produce_latency, |x| x.p50_ms),
            p(cell.produce_latency, |x| x.p99_ms),
            p(cell.produce_latency, |x| x.p999_ms),
            p(cell.end_to_end, |x| x.p50_ms),
            p(cell.end_to_end, |x| x.p99_ms),
            num(cell.throughput_per_s),
            num(cell.elections_per_seed),
            num(cell.offline_s_per_seed),
            p(cell.isr_recovery, |x| x.p99_ms),
            num(cell.rebalances_per_seed),
            p(cell.rebalance_duration, |x| x.p99_ms),
        ];
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

/// A number as Rust's shortest round-trip form, which is the same everywhere.
fn num(x: f64) -> String {
    format!("{x}")
}

/// RFC 4180: quoted when it holds a comma, a quote or a line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_string() }
}

/// A share as a percentage for people: `37%`, `0.4%`, `0%`.
pub fn percent(share: f64) -> String {
    let p = share * 100.0;
    if p == 0.0 || p >= 10.0 {
        format!("{p:.0}%")
    } else if p >= 1.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.2}%")
    }
}

/// `1 record`, `2,500 records`.
fn counted(n: u64, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{} {noun}s", count(n)) }
}

/// An integer with thousands separators: `1,234,567`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn ms(p: Option<Percentiles>, pick: fn(&Percentiles) -> f64) -> String {
    p.as_ref().map_or("–".to_string(), |p| format!("{:.1}", pick(p)))
}

/// The headline table's rows: the cell, then its figures, as text.
pub fn headline(c: &Comparison) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let header = vec![
        "cell",
        "acked writes",
        "lost (of acked)",
        "seeds with loss (95% CI)",
        "written twice",
        "processed twice",
        "order violations",
        "undelivered",
        "sends failed",
        "produce p50 / p99 / p99.9 ms",
        "end-to-end p99 ms",
        "offline s per seed",
    ];
    let rows = c
        .cells
        .iter()
        .map(|cell| {
            vec![
                cell.name.clone(),
                count(cell.acked),
                format!("{} ({})", count(cell.lost), percent(cell.lost_share_of_acked)),
                format!(
                    "{} of {} ({}, {}–{})",
                    cell.seeds_with_loss,
                    cell.seeds,
                    percent(cell.seeds_with_loss_share),
                    percent(cell.seeds_with_loss_ci95[0]),
                    percent(cell.seeds_with_loss_ci95[1])
                ),
                count(cell.duplicate_writes),
                count(cell.duplicate_deliveries),
                count(cell.order_violations),
                count(cell.undelivered),
                format!("{} ({})", count(cell.failed), percent(cell.failed_share_of_sent)),
                format!(
                    "{} / {} / {}",
                    ms(cell.produce_latency, |p| p.p50_ms),
                    ms(cell.produce_latency, |p| p.p99_ms),
                    ms(cell.produce_latency, |p| p.p999_ms)
                ),
                ms(cell.end_to_end, |p| p.p99_ms),
                format!("{:.1}", cell.offline_s_per_seed),
            ]
        })
        .collect();
    (header, rows)
}

/// Plain-language findings drawn from the numbers, most important first.
pub fn findings(c: &Comparison) -> Vec<String> {
    let mut out = Vec::new();
    for cell in &c.cells {
        out.push(loss_finding(cell));
    }
    for cell in c.cells.iter().filter(|x| x.duplicate_writes > 0) {
        out.push(format!(
            "`{}` wrote records twice (retries without idempotence) in {} of {} seeds ({}).",
            cell.name,
            cell.seeds_with_duplicate_writes,
            cell.seeds,
            counted(cell.duplicate_writes, "record")
        ));
    }
    let none_twice: Vec<String> =
        c.cells.iter().filter(|x| x.duplicate_writes == 0).map(|x| format!("`{}`", x.name)).collect();
    if !none_twice.is_empty() && none_twice.len() < c.cells.len() {
        out.push(format!("No record was written twice with {}.", none_twice.join(", ")));
    }
    for cell in c.cells.iter().filter(|x| x.order_violations > 0) {
        out.push(format!(
            "`{}` broke send order in {} of {} seeds ({} of key-order, reordered-write or nonmonotonic-poll).",
            cell.name,
            cell.seeds_with_order_violations,
            cell.seeds,
            counted(cell.order_violations, "violation")
        ));
    }
    let timed: Vec<(&CellSummary, f64)> =
        c.cells.iter().filter_map(|x| x.produce_latency.map(|p| (x, p.p99_ms))).collect();
    let fastest = timed.iter().min_by(|a, b| a.1.total_cmp(&b.1));
    let slowest = timed.iter().max_by(|a, b| a.1.total_cmp(&b.1));
    // Said only when it matters: the slowest cell's p99 a fifth above the fastest's.
    if let (Some(f), Some(s)) = (fastest, slowest)
        && s.1 > f.1 * 1.2
    {
        out.push(format!(
            "Acknowledgement latency (p99) ranges from {:.1} ms (`{}`) to {:.1} ms (`{}`).",
            f.1, f.0.name, s.1, s.0.name
        ));
    }
    for cell in c.cells.iter().filter(|x| x.failed_share_of_sent >= 0.001) {
        let (error, n) = cell.failed_by_error.iter().max_by_key(|(_, n)| **n).map_or(("", 0), |(e, n)| (e, *n));
        out.push(format!(
            "`{}` failed {} of its sends ({}), most with {error} ({}).",
            cell.name,
            percent(cell.failed_share_of_sent),
            count(cell.failed),
            count(n)
        ));
    }
    out
}

fn loss_finding(cell: &CellSummary) -> String {
    if cell.lost == 0 {
        return format!(
            "`{}` lost none of {} acknowledged writes over {} seeds (at 95% confidence, fewer than {} of seeds \
             would lose any).",
            cell.name,
            count(cell.acked),
            cell.seeds,
            percent(cell.seeds_with_loss_ci95[1])
        );
    }
    format!(
        "`{}` lost acknowledged writes in {} of seeds ({} of {}; 95% CI {}–{}): {} of {} acknowledged writes.",
        cell.name,
        percent(cell.seeds_with_loss_share),
        cell.seeds_with_loss,
        cell.seeds,
        percent(cell.seeds_with_loss_ci95[0]),
        percent(cell.seeds_with_loss_ci95[1]),
        count(cell.lost),
        count(cell.acked)
    )
}

/// `report.md`: the headline table, findings, each cell's worst seed and settings; renders on GitHub.
pub fn markdown(c: &Comparison) -> String {
    let mut s = String::new();
    let heading = if c.title.is_empty() { c.name.as_str() } else { c.title.as_str() };
    let _ = writeln!(s, "# {heading}\n");
    let _ = writeln!(
        s,
        "Base scenario `{}` (FNV-1a 64 `{}`); every cell ran the same {} seeds ({}), so each met the same fault \
         draws. insync {}; all times simulated.\n",
        c.base, c.base_fnv64, c.seed_count, c.seeds, c.insync_version
    );
    let (header, rows) = headline(c);
    let _ = writeln!(s, "| {} |", header.join(" | "));
    let _ = writeln!(s, "|{}", header.iter().map(|_| "---|").collect::<String>());
    for row in rows {
        let cells: Vec<String> = row.iter().map(|x| x.replace('|', "\\|")).collect();
        let _ = writeln!(s, "| {} |", cells.join(" | "));
    }
    let _ = writeln!(s, "\n## Findings\n");
    for f in findings(c) {
        let _ = writeln!(s, "- {f}");
    }
    let _ = writeln!(s, "\n## Worst seed per cell\n");
    for cell in &c.cells {
        match &cell.worst {
            Some(w) => {
                let _ = writeln!(s, "- `{}`: {}:\n  `{}`", cell.name, w.described(), w.reproduce);
            }
            None => {
                let _ =
                    writeln!(s, "- `{}`: no seed lost, duplicated, reordered or left anything undelivered", cell.name);
            }
        }
    }
    let _ = writeln!(s, "\n## Cells\n");
    for cell in &c.cells {
        let sets: Vec<String> = cell.overrides.iter().map(|o| format!("`--set {o}`")).collect();
        let sets = if sets.is_empty() { "the base as written".to_string() } else { sets.join(" ") };
        let _ = writeln!(s, "- `{}`: {sets}", cell.name);
    }
    let _ = writeln!(
        s,
        "\nLost: acknowledged writes missing from the final logs. Written twice: records a log holds twice (duplicate-write). \
         Processed twice: records a group processed again (duplicate-delivery, at-least-once). Order violations: key-order, reordered-write, nonmonotonic-poll. Undelivered: acknowledged \
         records no group processed by the end. Percentiles: HdrHistogram, 3 significant digits. Every figure is in \
         `results.json` and `results.csv`."
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_for_people() {
        assert_eq!(count(0), "0");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(100), "100");
        assert_eq!(
            (percent(0.0), percent(0.37), percent(0.0123), percent(0.00123)),
            ("0%".into(), "37%".into(), "1.2%".into(), "0.12%".into())
        );
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"x\""), "\"say \"\"x\"\"\"");
    }
}
