//! `helpdesk stats`: the figures of store::stats as text or JSON.

use std::io::Write;

use anyhow::Result;

use crate::store::stats::{self, Kept, Stats, Times};

use super::{Context, UsageError, output};

/// Ticket statistics: volumes, response and resolution times, SLA compliance, trends
///
/// Counts by status include every ticket; the other figures leave out noise and spam. Days are
/// cut in the [sla] timezone.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the statistics as JSON
    #[arg(long)]
    pub json: bool,
}

pub fn run(ctx: &Context, args: &Args) -> Result<()> {
    let tz: chrono_tz::Tz = ctx.config.sla.timezone.parse().map_err(|_| {
        UsageError(format!(
            "sla.timezone {:?} is not known",
            ctx.config.sla.timezone
        ))
    })?;
    let store = ctx.open_store()?;
    let s = stats::compute(store.conn(), super::now(), tz)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        return output::json(&mut out, &s);
    }
    print(&mut out, &s)
}

/// A duration in seconds as `45m`, `3h 20m`, `2d 4h`.
pub fn duration(secs: f64) -> String {
    let s = secs.round() as i64;
    match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        s => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

fn times(t: &Times) -> String {
    match (t.median, t.p90) {
        (Some(m), Some(p)) => format!(
            "median {}, p90 {} ({} tickets)",
            duration(m),
            duration(p),
            t.count
        ),
        _ => "none yet".into(),
    }
}

pub fn kept(k: &Kept) -> String {
    let mut s = match k.percent {
        Some(p) => format!("{p:.0}% ({} of {})", k.met, k.met + k.breached),
        None => "-".into(),
    };
    if k.pending > 0 {
        s.push_str(&format!(", {} running", k.pending));
    }
    s
}

/// Eight-level bars for a series, scaled to its maximum.
pub fn sparkline(values: &[i64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().copied().max().unwrap_or(0);
    values
        .iter()
        .map(|&v| {
            if max == 0 || v == 0 {
                ' '
            } else {
                BARS[((v * 8 + max - 1) / max - 1).clamp(0, 7) as usize]
            }
        })
        .collect()
}

fn print(out: &mut impl Write, s: &Stats) -> Result<()> {
    let statuses: Vec<String> = s
        .by_status
        .iter()
        .map(|c| format!("{} {}", c.name, c.tickets))
        .collect();
    writeln!(out, "Tickets: {} ({})", s.tickets, statuses.join(", "))?;
    let join = |v: &[stats::Count]| {
        v.iter()
            .map(|c| format!("{} {}", c.name, c.tickets))
            .collect::<Vec<_>>()
            .join(", ")
    };
    writeln!(out, "By priority: {}", join(&s.by_priority))?;
    writeln!(out, "By category: {}", join(&s.by_category))?;
    writeln!(out)?;
    writeln!(out, "First response: {}", times(&s.first_response))?;
    writeln!(out, "Resolution:     {}", times(&s.resolution))?;
    writeln!(out)?;
    if s.sla.is_empty() {
        writeln!(out, "SLA compliance: no deadlines yet")?;
    } else {
        let rows: Vec<Vec<String>> = s
            .sla
            .iter()
            .map(|c| {
                vec![
                    c.priority.clone(),
                    kept(&c.first_response),
                    kept(&c.resolution),
                ]
            })
            .collect();
        output::table(out, &["SLA", "FIRST RESPONSE MET", "RESOLUTION MET"], &rows)?;
    }
    writeln!(out)?;
    let created: Vec<i64> = s.daily.iter().map(|d| d.created).collect();
    let resolved: Vec<i64> = s.daily.iter().map(|d| d.resolved).collect();
    let (first, last) = (
        s.daily.first().map_or("", |d| d.date.as_str()),
        s.daily.last().map_or("", |d| d.date.as_str()),
    );
    writeln!(out, "Last 30 days ({first} to {last}):")?;
    writeln!(
        out,
        "  created  {} {}",
        sparkline(&created),
        created.iter().sum::<i64>()
    )?;
    writeln!(
        out,
        "  resolved {} {}",
        sparkline(&resolved),
        resolved.iter().sum::<i64>()
    )?;
    writeln!(out)?;
    if !s.top_requesters.is_empty() {
        writeln!(out, "Top requesters:")?;
        for r in &s.top_requesters {
            match &r.name {
                Some(n) => writeln!(out, "  {:>4}  {n} <{}>", r.tickets, r.address)?,
                None => writeln!(out, "  {:>4}  {}", r.tickets, r.address)?,
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sparklines() {
        assert_eq!(duration(59.0), "59s");
        assert_eq!(duration(3.0 * 3600.0 + 1200.0), "3h 20m");
        assert_eq!(duration(2.0 * 86_400.0 + 4.0 * 3600.0), "2d 4h");
        assert_eq!(sparkline(&[0, 1, 4, 8]), " ▁▄█");
        assert_eq!(sparkline(&[0, 0]), "  ");
    }
}
