//! The statistics view: ticket counts, response and resolution times, SLA compliance per
//! priority, the last 30 days of created and resolved tickets as a chart, and the top
//! requesters. It only reads a [`Stats`] (store::stats::compute); `render` fills the area given.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Cell, Chart, Dataset, GraphType, LegendPosition, Paragraph, Row, Table,
};

use super::Theme;
use crate::store::stats::{Count, Kept, Stats, Times};
use crate::tui::widgets::safe_text::{clean, span};

/// Draws the statistics into `area`.
pub fn render(frame: &mut Frame<'_>, area: Rect, stats: &Stats, theme: Theme) {
    let block = theme.block(" Statistics ", true);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height < 6 || inner.width < 30 {
        frame.render_widget(
            Paragraph::new("Too small for statistics; widen the terminal."),
            inner,
        );
        return;
    }
    let [summary, rest] =
        Layout::vertical([Constraint::Length(5), Constraint::Min(1)]).areas(inner);
    draw_summary(frame, summary, stats, theme);
    // The tables need some 40 columns; the chart takes the rest.
    let left_width = (rest.width * 48 / 100).clamp(38, 48);
    let [left, right] =
        Layout::horizontal([Constraint::Length(left_width), Constraint::Min(20)]).areas(rest);
    let sla_rows = stats.sla.len().max(1) as u16 + 1;
    let [sla, top] =
        Layout::vertical([Constraint::Length(sla_rows + 1), Constraint::Min(1)]).areas(left);
    draw_sla(frame, sla, stats, theme);
    draw_top(frame, top, stats, theme);
    draw_chart(frame, right, stats, theme);
}

fn counts(v: &[Count]) -> String {
    if v.is_empty() {
        return "-".into();
    }
    v.iter()
        .map(|c| format!("{} {}", c.name, c.tickets))
        .collect::<Vec<_>>()
        .join(" · ")
}

fn duration(secs: f64) -> String {
    let s = secs.round() as i64;
    match s {
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        s => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

fn times(t: &Times) -> String {
    match (t.median, t.p90) {
        (Some(m), Some(p)) => format!(
            "median {} · p90 {} · {} tickets",
            duration(m),
            duration(p),
            t.count
        ),
        _ => "none yet".into(),
    }
}

fn draw_summary(frame: &mut Frame<'_>, area: Rect, s: &Stats, theme: Theme) {
    let label = |t: &'static str| Span::styled(t, theme.dim());
    let statuses: Vec<Count> = s
        .by_status
        .iter()
        .filter(|c| c.tickets > 0)
        .cloned()
        .collect();
    let lines = vec![
        Line::from(vec![
            label("Tickets     "),
            Span::styled(
                s.tickets.to_string(),
                Style::new().add_modifier(Modifier::BOLD),
            ),
            Span::raw(format!("  {}", counts(&statuses))),
        ]),
        Line::from(vec![
            label("Priority    "),
            Span::raw(counts(&s.by_priority)),
        ]),
        Line::from(vec![
            label("Category    "),
            span(&counts(&s.by_category), Style::new()),
        ]),
        Line::from(vec![
            label("1st response "),
            Span::raw(times(&s.first_response)),
        ]),
        Line::from(vec![label("Resolution  "), Span::raw(times(&s.resolution))]),
    ];
    frame.render_widget(Paragraph::new(lines), area);
}

fn kept(k: &Kept, theme: Theme) -> Cell<'static> {
    let Some(p) = k.percent else {
        return Cell::from(Span::styled("-", theme.dim()));
    };
    let style = if p >= 95.0 {
        theme.fg(theme.ok)
    } else if p >= 80.0 {
        theme.fg(theme.warn)
    } else {
        theme.fg(theme.error).add_modifier(Modifier::BOLD)
    };
    Cell::from(Span::styled(
        format!("{p:>3.0}% {}/{}", k.met, k.met + k.breached),
        style,
    ))
}

fn draw_sla(frame: &mut Frame<'_>, area: Rect, s: &Stats, theme: Theme) {
    let header = Row::new(["SLA met", "1st response", "resolution"]).style(theme.dim());
    let rows: Vec<Row<'_>> = if s.sla.is_empty() {
        vec![Row::new([Cell::from(Span::styled(
            "no deadlines yet",
            theme.dim(),
        ))])]
    } else {
        s.sla
            .iter()
            .map(|c| {
                Row::new(vec![
                    Cell::from(c.priority.clone()),
                    kept(&c.first_response, theme),
                    kept(&c.resolution, theme),
                ])
            })
            .collect()
    };
    let table = Table::new(
        rows,
        [
            Constraint::Length(8),
            Constraint::Length(13),
            Constraint::Length(13),
        ],
    )
    .header(header)
    .column_spacing(1);
    frame.render_widget(table, area);
}

fn draw_top(frame: &mut Frame<'_>, area: Rect, s: &Stats, theme: Theme) {
    let mut lines = vec![Line::from(Span::styled("Top requesters", theme.dim()))];
    for r in s
        .top_requesters
        .iter()
        .take(area.height.saturating_sub(1) as usize)
    {
        let who = r.name.as_deref().unwrap_or(&r.address);
        lines.push(Line::from(vec![
            Span::raw(format!("{:>4} ", r.tickets)),
            Span::raw(clean(who)),
        ]));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

fn draw_chart(frame: &mut Frame<'_>, area: Rect, s: &Stats, theme: Theme) {
    let created: Vec<(f64, f64)> = s
        .daily
        .iter()
        .enumerate()
        .map(|(i, d)| (i as f64, d.created as f64))
        .collect();
    let resolved: Vec<(f64, f64)> = s
        .daily
        .iter()
        .enumerate()
        .map(|(i, d)| (i as f64, d.resolved as f64))
        .collect();
    let max = s
        .daily
        .iter()
        .map(|d| d.created.max(d.resolved))
        .max()
        .unwrap_or(0)
        .max(1);
    let last = s.daily.len().saturating_sub(1) as f64;
    let date = |i: usize| {
        s.daily
            .get(i)
            .map_or_else(String::new, |d| d.date.get(5..).unwrap_or("").to_owned())
    };
    let datasets = vec![
        Dataset::default()
            .name("created")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.fg(theme.warn))
            .data(&created),
        Dataset::default()
            .name("resolved")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.fg(theme.ok))
            .data(&resolved),
    ];
    let chart = Chart::new(datasets)
        .block(theme.block(" Last 30 days ", false))
        .legend_position(Some(LegendPosition::TopLeft))
        .hidden_legend_constraints((Constraint::Percentage(100), Constraint::Percentage(100)))
        .x_axis(
            Axis::default()
                .style(theme.dim())
                .bounds([0.0, last.max(1.0)])
                .labels([
                    date(0),
                    date(s.daily.len() / 2),
                    date(s.daily.len().saturating_sub(1)),
                ]),
        )
        .y_axis(
            Axis::default()
                .style(theme.dim())
                .bounds([0.0, max as f64])
                .labels(["0".to_owned(), max.to_string()]),
        );
    frame.render_widget(chart, area);
}
