//! The timeline page: one self-contained file (charts inline as SVG drawn with plotters, no scripts or fetches).
//! Every chart shares the time axis and marks the faults as numbered dashed lines; violations are red numbered
//! marks linking to their witness text at the foot of the page.

use super::{Marked, PartitionLanes, ReplicaPhase, Span, Timeline, Trouble};
use crate::page::{FONT, drawing, escape};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::fmt::Write as _;

const WIDTH_PX: u32 = 1100;
const NAME_AREA_PX: u32 = 170;
const LANE_PX: u32 = 26;
/// What a character of an 11-pixel label takes, for deciding whether a label fits in its bar.
const LABEL_CHAR_PX: f64 = 6.5;
/// The glyph before a violation's number on a chart (the number links to its witness).
const VIOLATION_GLYPH: char = '▲';

const LEADER: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const STALE_LEADER: RGBColor = RGBColor(0xd6, 0x27, 0x28);
const IN_SYNC: RGBColor = RGBColor(0x2c, 0xa0, 0x2c);
const OUT_OF_SYNC: RGBColor = RGBColor(0xff, 0x9f, 0x40);
const UNKNOWN: RGBColor = RGBColor(0xc7, 0xc7, 0xc7);
const DOWN: RGBColor = RGBColor(0x4d, 0x4d, 0x4d);
const COMMITTED: RGBColor = RGBColor(0x9e, 0xc9, 0xe2);
const LEADERLESS: RGBColor = STALE_LEADER;
const NODE_DOWN: RGBColor = RGBColor(0x8c, 0x2d, 0x04);
const PAUSED: RGBColor = RGBColor(0xfd, 0xae, 0x61);
const CUT_OFF: RGBColor = RGBColor(0xe6, 0xc2, 0x29);
const TRUNCATION: RGBColor = RGBColor(0x7b, 0x32, 0x94);
const VIOLATION: RGBColor = STALE_LEADER;
const SHADE: RGBColor = RGBColor(0xee, 0xee, 0xee);

/// A bar in a lane: from, to (seconds), its colour, and the label written in it when it fits (else the short
/// one, else none).
struct Bar {
    from_s: f64,
    to_s: f64,
    colour: RGBColor,
    label: String,
    short: String,
}

/// Text at an instant in a lane.
struct Mark {
    at_s: f64,
    text: String,
    colour: RGBColor,
}

#[derive(Default)]
struct Lane {
    name: String,
    bars: Vec<Bar>,
    marks: Vec<Mark>,
}

/// What every time chart of the page shares: its end, the faults' times, the time-axis labels.
struct Frame<'a> {
    end_s: f64,
    faults_s: &'a [f64],
}

fn seconds(us: u64) -> f64 {
    us as f64 / 1e6
}

fn bar<T>(span: &Span<T>, colour: RGBColor, label: String, short: String) -> Bar {
    Bar { from_s: seconds(span.from_us), to_s: seconds(span.to_us), colour, label, short }
}

/// The width a label takes at 11 pixels.
fn label_px(label: &str) -> f64 {
    LABEL_CHAR_PX * label.chars().count() as f64 + 6.0
}

fn seconds_label(s: &f64) -> String {
    format!("{s}s")
}

/// Black text on a light bar, white on a dark one.
fn text_colour(c: RGBColor) -> RGBColor {
    let luminance = 0.299 * f64::from(c.0) + 0.587 * f64::from(c.1) + 0.114 * f64::from(c.2);
    if luminance > 150.0 { BLACK } else { WHITE }
}

/// Lanes of bars over time, a lane per row named at the left, `shade` spans greyed behind every lane.
fn lanes_chart(frame: &Frame<'_>, lanes: &[Lane], shade: &[(f64, f64)]) -> Result<String, String> {
    let height_px = 60 + LANE_PX * lanes.len() as u32;
    let n = lanes.len() as f64;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH_PX, height_px)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        let mut chart = time_chart(&root, frame, n)?;
        let mut mesh = chart.configure_mesh();
        mesh.disable_y_mesh().y_labels(0).x_desc("simulated seconds").x_label_formatter(&seconds_label);
        mesh.x_label_style((FONT, 12)).axis_desc_style((FONT, 12));
        mesh.draw().map_err(drawing)?;
        let shades = shade.iter().map(|&(a, b)| Rectangle::new([(a, 0.0), (b, n)], SHADE.filled()));
        chart.draw_series(shades).map_err(drawing)?;
        for (i, lane) in lanes.iter().enumerate() {
            let (low, high) = (n - i as f64 - 0.85, n - i as f64 - 0.15);
            // Each bar edged in white, so that two bars of one colour side by side stay two.
            let rects = lane.bars.iter().map(|b| Rectangle::new([(b.from_s, low), (b.to_s, high)], b.colour.filled()));
            chart.draw_series(rects).map_err(drawing)?;
            let edges =
                lane.bars.iter().map(|b| Rectangle::new([(b.from_s, low), (b.to_s, high)], WHITE.stroke_width(1)));
            chart.draw_series(edges).map_err(drawing)?;
            for b in &lane.bars {
                let (left, y) = chart.backend_coord(&(b.from_s, (low + high) / 2.0));
                let (right, _) = chart.backend_coord(&(b.to_s, high));
                let room = f64::from(right - left);
                let Some(label) = [&b.label, &b.short].into_iter().find(|l| label_px(l) < room) else { continue };
                let colour = text_colour(b.colour);
                let style = TextStyle::from((FONT, 11)).color(&colour).pos(Pos::new(HPos::Left, VPos::Center));
                root.draw(&Text::new(label.clone(), (left + 3, y), style)).map_err(drawing)?;
            }
            for m in &lane.marks {
                let (x, y) = chart.backend_coord(&(m.at_s, (low + high) / 2.0));
                // On a white ground, readable over any bar.
                let half = (label_px(&m.text) / 2.0) as i32;
                let ground = Rectangle::new([(x - half, y - 8), (x + half, y + 8)], WHITE.mix(0.85).filled());
                root.draw(&ground).map_err(drawing)?;
                let style = TextStyle::from((FONT, 12)).color(&m.colour).pos(Pos::new(HPos::Center, VPos::Center));
                root.draw(&Text::new(m.text.clone(), (x, y), style)).map_err(drawing)?;
            }
            let (x, y) = chart.backend_coord(&(0.0, (low + high) / 2.0));
            let style = TextStyle::from((FONT, 12)).pos(Pos::new(HPos::Right, VPos::Center));
            root.draw(&Text::new(lane.name.clone(), (x - 8, y), style)).map_err(drawing)?;
        }
        draw_fault_lines(&root, &mut chart, frame, n)?;
        root.present().map_err(drawing)?;
    }
    Ok(svg)
}

type Chart2d<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// A chart over the run's time (x, seconds) and `0..y_top`, with room at the left for lane names or a y axis and
/// at the top for the faults' numbers.
fn time_chart<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    frame: &Frame<'_>,
    y_top: f64,
) -> Result<Chart2d<'a, 'b>, String> {
    ChartBuilder::on(root)
        .margin(8)
        .margin_right(24)
        .margin_top(18)
        .x_label_area_size(34)
        .y_label_area_size(NAME_AREA_PX)
        .build_cartesian_2d(0f64..frame.end_s, 0f64..y_top)
        .map_err(drawing)
}

/// Each fault as a dashed grey line across the plot, its number above it.
fn draw_fault_lines(
    root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    chart: &mut Chart2d<'_, '_>,
    frame: &Frame<'_>,
    top: f64,
) -> Result<(), String> {
    for (i, &at) in frame.faults_s.iter().enumerate() {
        let (x, y_top) = chart.backend_coord(&(at, top));
        let line = DashedLineSeries::new([(at, top), (at, 0.0)], 4, 3, RGBColor(0x66, 0x66, 0x66).stroke_width(1));
        chart.draw_series(line).map_err(drawing)?;
        let style =
            TextStyle::from((FONT, 11)).color(&RGBColor(0x44, 0x44, 0x44)).pos(Pos::new(HPos::Center, VPos::Bottom));
        root.draw(&Text::new(format!("{}", i + 1), (x, y_top - 2), style)).map_err(drawing)?;
    }
    Ok(())
}

/// A line series' points split where the value is missing (a broker down draws no line).
fn runs(points: &[(f64, Option<f64>)]) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for &(t, v) in points {
        match (v, out.last_mut()) {
            (Some(v), Some(run)) => run.push((t, v)),
            (None, Some(run)) if !run.is_empty() => out.push(Vec::new()),
            _ => {}
        }
    }
    out.retain(|r| !r.is_empty());
    out
}

/// One line of a line chart: label, colour, whether dashed, and the points (gaps where `None`).
struct Line {
    colour: RGBColor,
    dashed: bool,
    points: Vec<(f64, Option<f64>)>,
}

fn line_chart(y_desc: &str, frame: &Frame<'_>, lines: &[Line]) -> Result<String, String> {
    let top = lines.iter().flat_map(|l| l.points.iter().filter_map(|p| p.1)).fold(1.0, f64::max) * 1.08;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH_PX, 260)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        let mut chart = time_chart(&root, frame, top)?;
        let mut mesh = chart.configure_mesh();
        mesh.x_desc("simulated seconds").y_desc(y_desc).x_label_formatter(&seconds_label);
        // Whole numbers, but tenths on an axis that does not reach 10 (errors per second).
        let decimals = usize::from(top < 10.0);
        let label = move |v: &f64| format!("{v:.decimals$}");
        mesh.y_label_formatter(&label).label_style((FONT, 12)).axis_desc_style((FONT, 12));
        mesh.draw().map_err(drawing)?;
        for line in lines {
            for run in runs(&line.points) {
                let style = line.colour.stroke_width(2);
                if line.dashed {
                    chart.draw_series(DashedLineSeries::new(run, 6, 4, style)).map_err(drawing)?;
                } else {
                    chart.draw_series(LineSeries::new(run, style)).map_err(drawing)?;
                }
            }
        }
        draw_fault_lines(&root, &mut chart, frame, top)?;
        root.present().map_err(drawing)?;
    }
    Ok(svg)
}

fn broker_colour(index: usize) -> RGBColor {
    let c = Palette99::pick(index).to_rgba();
    RGBColor(c.0, c.1, c.2)
}

fn phase_bar(span: &Span<ReplicaPhase>) -> Bar {
    let (colour, what, short, epoch) = match span.state {
        ReplicaPhase::Down => return bar(span, DOWN, "down".to_string(), String::new()),
        ReplicaPhase::Unknown => return bar(span, UNKNOWN, "starting".to_string(), String::new()),
        ReplicaPhase::Leader { epoch, current: true } => (LEADER, "leader", "L", epoch),
        ReplicaPhase::Leader { epoch, current: false } => (STALE_LEADER, "stale leader", "stale", epoch),
        ReplicaPhase::Follower { epoch, in_isr: true } => (IN_SYNC, "follower in ISR", "ISR", epoch),
        ReplicaPhase::Follower { epoch, in_isr: false } => (OUT_OF_SYNC, "follower out of ISR", "out", epoch),
    };
    bar(span, colour, format!("{what} · epoch {epoch}"), format!("{short} e{epoch}"))
}

/// Violations as marks: those within a hundredth of the run of the first of a cluster share its mark, which
/// says how many more it stands for and links to the first.
fn violation_marks<'a>(frame: &Frame<'_>, marked: impl Iterator<Item = &'a Marked>) -> Vec<Mark> {
    let mut timed: Vec<(f64, usize)> = marked.filter_map(|m| m.time_us.map(|t| (seconds(t), m.number))).collect();
    timed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut clusters: Vec<(f64, usize, usize)> = Vec::new();
    for (at_s, number) in timed {
        match clusters.last_mut() {
            Some((start, _, more)) if at_s - *start <= frame.end_s / 100.0 => *more += 1,
            _ => clusters.push((at_s, number, 0)),
        }
    }
    let text = |number, more| match more {
        0 => format!("{VIOLATION_GLYPH}{number}"),
        more => format!("{VIOLATION_GLYPH}{number} +{more}"),
    };
    clusters
        .into_iter()
        .map(|(at_s, number, more)| Mark { at_s, text: text(number, more), colour: VIOLATION })
        .collect()
}

fn partition_lanes(frame: &Frame<'_>, p: &PartitionLanes, marked: &[Marked]) -> Vec<Lane> {
    let committed = p.committed.iter().map(|span| {
        let c = &span.state;
        let isr: Vec<String> = c.isr.iter().map(|b| b.0.to_string()).collect();
        match c.leader {
            Some(b) => {
                let label = format!("{b} · epoch {} · ISR [{}]", c.epoch, isr.join(","));
                bar(span, COMMITTED, label, format!("{} e{}", b.0, c.epoch))
            }
            None => bar(span, LEADERLESS, format!("no leader · epoch {}", c.epoch), "none".to_string()),
        }
    });
    let mut lanes = vec![Lane { name: "controller".to_string(), bars: committed.collect(), marks: Vec::new() }];
    for r in &p.replicas {
        let marks = r.truncations.iter().map(|x| Mark {
            at_s: seconds(x.at_us),
            text: format!("✂ −{}", x.from - x.to),
            colour: TRUNCATION,
        });
        let name = r.broker.to_string();
        lanes.push(Lane { name, bars: r.phases.iter().map(phase_bar).collect(), marks: marks.collect() });
    }
    let here = marked.iter().filter(|m| m.partition == Some(p.partition.0));
    let marks = violation_marks(frame, here);
    if !marks.is_empty() {
        lanes.push(Lane { name: "violations".to_string(), bars: Vec::new(), marks });
    }
    lanes
}

fn offset_lines(p: &PartitionLanes) -> Vec<Line> {
    let mut lines = Vec::new();
    for r in &p.replicas {
        let colour = broker_colour(r.broker.0 as usize);
        let leo = r.offsets.iter().map(|&(t, o)| (seconds(t), o.map(|(leo, _)| leo as f64))).collect();
        let hw = r.offsets.iter().map(|&(t, o)| (seconds(t), o.map(|(_, hw)| hw as f64))).collect();
        lines.push(Line { colour, dashed: false, points: leo });
        lines.push(Line { colour, dashed: true, points: hw });
    }
    lines
}

fn node_lanes(frame: &Frame<'_>, t: &Timeline) -> Vec<Lane> {
    let mut lanes: Vec<Lane> = t
        .nodes
        .iter()
        .map(|(name, troubles)| {
            let bars = troubles.iter().map(|span| match span.state {
                Trouble::Down => bar(span, NODE_DOWN, "down".to_string(), String::new()),
                Trouble::Paused => bar(span, PAUSED, "paused".to_string(), String::new()),
                Trouble::CutOff { peers } => bar(span, CUT_OFF, format!("cut off from {peers}"), peers.to_string()),
            });
            Lane { name: name.clone(), bars: bars.collect(), marks: Vec::new() }
        })
        .collect();
    let marks = violation_marks(frame, t.violations.iter().filter(|m| m.partition.is_none()));
    if !marks.is_empty() {
        lanes.push(Lane { name: "violations".to_string(), bars: Vec::new(), marks });
    }
    lanes
}

fn group_lanes(g: &super::GroupLanes) -> Vec<Lane> {
    g.members
        .iter()
        .map(|m| {
            let bars = m.owned.iter().map(|span| {
                let super::Owned { generation, partitions } = &span.state;
                let owns = if partitions.is_empty() { "nothing".to_string() } else { partitions.join(", ") };
                bar(
                    span,
                    broker_colour(*generation as usize),
                    format!("gen {generation}: {owns}"),
                    format!("g{generation}"),
                )
            });
            Lane { name: m.consumer.clone(), bars: bars.collect(), marks: Vec::new() }
        })
        .collect()
}

/// Wraps each violation mark's text in a link to its witness.
fn link_violations(svg: String, marked: &[Marked]) -> String {
    let mut svg = svg;
    for m in marked {
        let needle = format!("{VIOLATION_GLYPH}{}", m.number);
        let mut from = 0;
        while let Some(found) = svg[from..].find(&needle).map(|i| i + from) {
            let after = found + needle.len();
            let whole = !svg[after..].starts_with(|c: char| c.is_ascii_digit());
            let (Some(open), Some(close)) =
                (svg[..found].rfind("<text"), svg[after..].find("</text>").map(|i| i + after))
            else {
                break;
            };
            if !whole {
                from = after;
                continue;
            }
            let end = close + "</text>".len();
            let link = format!("<a href=\"#violation-{}\">{}</a>", m.number, &svg[open..end]);
            svg.replace_range(open..end, &link);
            from = open + link.len();
        }
    }
    svg
}

fn key(colour: RGBColor, what: &str) -> String {
    format!("<span class=\"key\" style=\"background:#{:02x}{:02x}{:02x}\"></span>{what}", colour.0, colour.1, colour.2)
}

const STYLE: &str = "body{font-family:sans-serif;max-width:1160px;margin:2em auto;padding:0 1em;color:#222}\
code,pre{background:#f3f3f3;padding:1px 3px}pre{white-space:pre-wrap;padding:6px}.muted{color:#666;font-size:13px}\
.key{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}\
.chart{margin:0.5em 0}li{margin:2px 0}";

pub fn html(t: &Timeline) -> Result<String, String> {
    let faults_s: Vec<f64> = t.faults.iter().map(|(at, _)| seconds(*at)).collect();
    let frame = Frame { end_s: seconds(t.end_us).max(0.001), faults_s: &faults_s };
    let title = escape(&t.title);
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n\
         <style>{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
    );
    let _ = writeln!(
        s,
        "<p class=\"muted\">Reproduce: <code>{}</code><br>All times simulated. Replica roles, log ends and high \
         watermarks are sampled every {} ms and after every fault; committed leadership, ISR changes and \
         truncations are exact.</p>",
        escape(&t.reproduce),
        t.sample_every_us / 1000
    );
    s.push_str(
        "<p><a href=\"#faults\">Nodes and faults</a> · <a href=\"#groups\">Consumer groups</a> · \
                <a href=\"#produce\">Produce</a> · <a href=\"#partitions\">Partitions</a> · \
                <a href=\"#witnesses\">Witnesses</a></p>\n",
    );
    violations_summary(&mut s, t);
    nodes_section(&mut s, t, &frame)?;
    groups_section(&mut s, t, &frame)?;
    produce_section(&mut s, t, &frame)?;
    partitions_section(&mut s, t, &frame)?;
    witnesses_section(&mut s, t);
    s.push_str("</body>\n</html>\n");
    Ok(s)
}

fn violations_summary(s: &mut String, t: &Timeline) {
    let found: Vec<String> =
        t.violation_counts.iter().filter(|(_, n)| **n > 0).map(|(name, n)| format!("{name}: {n}")).collect();
    s.push_str("<h2>Violations</h2>\n");
    let _ = if found.is_empty() {
        writeln!(s, "<p>The checker found no violation in this run.</p>")
    } else {
        writeln!(
            s,
            "<p>{}. The first {} of each invariant are listed as <a href=\"#witnesses\">witnesses</a>; those with a \
             time are marked {VIOLATION_GLYPH}<i>n</i> where they happened, linking to their witness.</p>",
            escape(&found.join(", ")),
            super::MARKED_PER_INVARIANT
        )
    };
}

fn nodes_section(s: &mut String, t: &Timeline, frame: &Frame<'_>) -> Result<(), String> {
    s.push_str("<h2 id=\"faults\">Nodes and faults</h2>\n");
    let lanes = node_lanes(frame, t);
    if lanes.iter().all(|l| l.bars.is_empty() && l.marks.is_empty()) {
        s.push_str("<p>No node was down, paused or cut off.</p>\n");
    } else {
        let svg = lanes_chart(frame, &lanes, &[])?;
        let _ = writeln!(
            s,
            "<h3>Nodes down, paused, or cut off from other nodes</h3>\n<div class=\"chart\">{}</div>",
            link_violations(svg, &t.violations)
        );
        let _ = writeln!(
            s,
            "<p class=\"muted\">{}{}{}</p>",
            key(NODE_DOWN, "down"),
            key(PAUSED, "paused"),
            key(CUT_OFF, "cut off")
        );
    }
    if t.faults.is_empty() {
        s.push_str("<p>No fault fired.</p>\n");
        return Ok(());
    }
    s.push_str("<ol>\n");
    for (at, what) in &t.faults {
        let _ = writeln!(s, "<li>{} s: {}</li>", seconds(*at), escape(what));
    }
    s.push_str("</ol>\n");
    Ok(())
}

fn partitions_section(s: &mut String, t: &Timeline, frame: &Frame<'_>) -> Result<(), String> {
    s.push_str("<h2 id=\"partitions\">Partitions</h2>\n");
    let _ = writeln!(
        s,
        "<p class=\"muted\">The controller's committed leader and ISR, then each replica as it saw itself: {}{}{}{}{}{}\
         {}. Offsets: each replica's log end (solid) and high watermark (dashed), in its broker's colour.</p>",
        key(LEADER, "leader"),
        key(STALE_LEADER, "stale leader (the controller moved on)"),
        key(IN_SYNC, "follower in ISR"),
        key(OUT_OF_SYNC, "follower out of ISR"),
        key(UNKNOWN, "starting"),
        key(DOWN, "down"),
        key(TRUNCATION, "✂ truncated, by how many offsets")
    );
    let (eventful, quiet): (Vec<&PartitionLanes>, Vec<&PartitionLanes>) =
        t.partitions.iter().partition(|p| eventful(p, &t.violations));
    for p in eventful {
        partition_charts(s, t, frame, p)?;
    }
    if !quiet.is_empty() {
        let names: Vec<&str> = quiet.iter().map(|p| p.name.as_str()).collect();
        let _ = writeln!(
            s,
            "<details><summary>{} partitions where nothing happened (one leader throughout, every replica in sync): \
             {}</summary>",
            quiet.len(),
            escape(&names.join(", "))
        );
        for p in quiet {
            partition_charts(s, t, frame, p)?;
        }
        s.push_str("</details>\n");
    }
    Ok(())
}

/// Whether a partition had anything to explain: a leadership or ISR change, a replica not in sync or down, a
/// truncation, or a violation.
fn eventful(p: &PartitionLanes, marked: &[Marked]) -> bool {
    let steady = |phase: &ReplicaPhase| {
        matches!(phase, ReplicaPhase::Leader { current: true, .. } | ReplicaPhase::Follower { in_isr: true, .. })
    };
    p.committed.len() > 1
        || p.replicas.iter().any(|r| !r.truncations.is_empty() || r.phases.iter().any(|x| !steady(&x.state)))
        || marked.iter().any(|m| m.partition == Some(p.partition.0))
}

fn partition_charts(s: &mut String, t: &Timeline, frame: &Frame<'_>, p: &PartitionLanes) -> Result<(), String> {
    let _ = writeln!(s, "<h3 id=\"partition-{}\">{}</h3>", escape(&p.name), escape(&p.name));
    let lanes = lanes_chart(frame, &partition_lanes(frame, p, &t.violations), &[])?;
    let _ = writeln!(
        s,
        "<h4>Leadership and ISR</h4>\n<div class=\"chart\">{}</div>",
        link_violations(lanes, &t.violations)
    );
    let keys: Vec<String> =
        p.replicas.iter().map(|r| key(broker_colour(r.broker.0 as usize), &r.broker.to_string())).collect();
    let offsets = line_chart("offset", frame, &offset_lines(p))?;
    let _ = writeln!(
        s,
        "<h4>Log end and high watermark</h4>\n<div class=\"chart\">{offsets}</div>\n<p class=\"muted\">{}</p>",
        keys.join("")
    );
    Ok(())
}

fn groups_section(s: &mut String, t: &Timeline, frame: &Frame<'_>) -> Result<(), String> {
    s.push_str("<h2 id=\"groups\">Consumer groups</h2>\n");
    if t.groups.is_empty() {
        s.push_str("<p>The scenario has no consumer group.</p>\n");
        return Ok(());
    }
    s.push_str(
        "<p class=\"muted\">Who owned which partitions, per generation; grey behind: the coordinator \
                rebalancing.</p>\n",
    );
    for g in &t.groups {
        let lanes = group_lanes(g);
        if lanes.iter().all(|l| l.bars.is_empty()) {
            let _ = writeln!(s, "<p>Group {} never had an assignment.</p>", escape(&g.name));
            continue;
        }
        let shade: Vec<(f64, f64)> = g.rebalances.iter().map(|r| (seconds(r.from_us), seconds(r.to_us))).collect();
        let svg = lanes_chart(frame, &lanes, &shade)?;
        let _ = writeln!(s, "<h3>Group {}</h3>\n<div class=\"chart\">{svg}</div>", escape(&g.name));
    }
    Ok(())
}

fn produce_section(s: &mut String, t: &Timeline, frame: &Frame<'_>) -> Result<(), String> {
    s.push_str("<h2 id=\"produce\">Produce</h2>\n");
    let bin_s = seconds(t.produce_bin_us);
    let at = |i: usize| i as f64 * bin_s;
    if t.produce.iter().all(|b| b.acked == 0) {
        s.push_str("<p>No send was acknowledged.</p>\n");
    } else {
        let acked = t.produce.iter().enumerate().map(|(i, b)| (at(i), Some(b.acked as f64 / bin_s))).collect();
        let line = Line { colour: LEADER, dashed: false, points: acked };
        let svg = line_chart("acknowledged/s", frame, &[line])?;
        let _ = writeln!(s, "<h3>Sends acknowledged per second</h3>\n<div class=\"chart\">{svg}</div>");
    }
    let mut errors: std::collections::BTreeMap<String, Vec<(f64, Option<f64>)>> = Default::default();
    for (i, b) in t.produce.iter().enumerate() {
        let named = b
            .failed
            .iter()
            .map(|(e, n)| (format!("failed: {e}"), n))
            .chain(b.attempt_errors.iter().map(|(e, n)| (format!("retried: {e}"), n)));
        for (name, n) in named {
            errors.entry(name).or_insert_with(|| (0..t.produce.len()).map(|j| (at(j), Some(0.0))).collect())[i].1 =
                Some(*n as f64 / bin_s);
        }
    }
    if errors.is_empty() {
        s.push_str("<p>No produce request failed.</p>\n");
        return Ok(());
    }
    let lines: Vec<Line> = errors
        .values()
        .enumerate()
        .map(|(i, points)| Line { colour: broker_colour(i + 3), dashed: false, points: points.clone() })
        .collect();
    let svg = line_chart("errors/s", frame, &lines)?;
    let keys: Vec<String> = errors.keys().enumerate().map(|(i, name)| key(broker_colour(i + 3), name)).collect();
    let _ = writeln!(
        s,
        "<h3>Produce errors per second, by Kafka error</h3>\n<div class=\"chart\">{svg}</div>\n<p class=\"muted\">{}</p>",
        keys.join("")
    );
    Ok(())
}

fn witnesses_section(s: &mut String, t: &Timeline) {
    if t.violations.is_empty() {
        return;
    }
    s.push_str("<h2 id=\"witnesses\">Witnesses</h2>\n<ol>\n");
    for m in &t.violations {
        let when = m.time_us.map_or_else(|| "no time".to_string(), |at| format!("{} s", seconds(at)));
        let _ = write!(
            s,
            "<li id=\"violation-{}\"><b>{}</b> ({when}) <pre>{}</pre>",
            m.number,
            m.invariant,
            escape(&m.text)
        );
        if !m.explanation.is_empty() {
            s.push_str("<ul>");
            for line in &m.explanation {
                let _ = write!(s, "<li>{}</li>", escape(line));
            }
            s.push_str("</ul>");
        }
        s.push_str("</li>\n");
    }
    s.push_str("</ol>\n");
}
