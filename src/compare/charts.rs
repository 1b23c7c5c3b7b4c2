//! `index.html`: one self-contained page (no scripts, fonts or links to fetch; charts inline as SVG drawn with
//! plotters) with the headline table, the findings, charts per cell and each cell's worst seed.

use super::Comparison;
use super::report::{findings, headline, percent};
use crate::page::{FONT, drawing, escape};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::fmt::Write as _;

const WIDTH_PX: u32 = 900;
const NAME_AREA_PX: i32 = 300;

/// One series of a bar chart: its label, colour, and per cell a value and an optional interval around it.
struct Series<'a> {
    label: &'a str,
    colour: RGBColor,
    values: Vec<(f64, Option<(f64, f64)>)>,
}

/// The value axis of a bar chart: its range, where bars start, and how ticks are labelled.
struct Axis<'a> {
    label: &'a str,
    range: std::ops::Range<f64>,
    format: &'a dyn Fn(&f64) -> String,
}

/// A horizontal bar chart, a band per cell (named at the left), a bar per series within it.
fn bars(title: &str, axis: &Axis<'_>, names: &[&str], series: &[Series<'_>]) -> Result<String, String> {
    let band_px = 18 * series.len() as u32 + 14;
    let height_px = 70 + band_px * names.len() as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH_PX, height_px)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        let cells = names.len() as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 16))
            .margin(8)
            .margin_right(28)
            .x_label_area_size(36)
            .y_label_area_size(NAME_AREA_PX as u32)
            .build_cartesian_2d(axis.range.clone(), 0f64..cells)
            .map_err(drawing)?;
        let mut mesh = chart.configure_mesh();
        mesh.disable_y_mesh().y_labels(0).x_desc(axis.label).x_label_formatter(axis.format);
        mesh.draw().map_err(drawing)?;
        let origin = axis.range.start;
        let k = series.len() as f64;
        for (s_index, s) in series.iter().enumerate() {
            let slot = |cell: usize| {
                let top = cells - cell as f64 - 0.1 - 0.8 * s_index as f64 / k;
                (top - 0.8 / k + 0.04, top)
            };
            let rects = s.values.iter().enumerate().map(|(cell, (v, _))| {
                let (low, high) = slot(cell);
                Rectangle::new([(origin, low), (v.max(origin), high)], s.colour.filled())
            });
            chart
                .draw_series(rects)
                .map_err(drawing)?
                .label(s.label)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], s.colour.filled()));
            let whiskers = s.values.iter().enumerate().filter_map(|(cell, (v, interval))| {
                let (low, high) = slot(cell);
                interval.map(|(a, b)| ErrorBar::new_horizontal((low + high) / 2.0, a, *v, b, BLACK.filled(), 8))
            });
            chart.draw_series(whiskers).map_err(drawing)?;
        }
        for (cell, name) in names.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(origin, cells - cell as f64 - 0.5));
            let style = TextStyle::from((FONT, 13)).pos(Pos::new(HPos::Right, VPos::Center));
            root.draw(&Text::new(name.to_string(), (x - 8, y), style)).map_err(drawing)?;
        }
        if series.len() > 1 {
            let mut labels = chart.configure_series_labels();
            labels.background_style(WHITE.mix(0.9)).border_style(BLACK).position(SeriesLabelPosition::LowerRight);
            labels.draw().map_err(drawing)?;
        }
        root.present().map_err(drawing)?;
    }
    Ok(svg)
}

/// Lag over time, a line per cell.
fn lag_chart(c: &Comparison) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH_PX, 380)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        let samples = c.cells.iter().map(|x| x.lag_mean.len()).max().unwrap_or(0);
        let interval_s = c.cells.first().map_or(1.0, |x| x.lag_interval_s);
        let end_s = (samples as f64 * interval_s).max(1.0);
        // Room at the top for the legend.
        let top = c.cells.iter().flat_map(|x| x.lag_mean.iter().copied()).fold(1.0, f64::max) * 1.6;
        let mut chart = ChartBuilder::on(&root)
            .caption("Consumer lag over time: acknowledged offsets not yet processed (mean over seeds)", (FONT, 16))
            .margin(8)
            .margin_right(28)
            .x_label_area_size(36)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..end_s, 0f64..top)
            .map_err(drawing)?;
        chart
            .configure_mesh()
            .x_desc("simulated seconds")
            .y_desc("records not yet processed")
            .draw()
            .map_err(drawing)?;
        for (i, cell) in c.cells.iter().enumerate() {
            let colour = Palette99::pick(i).to_rgba();
            let points = cell.lag_mean.iter().enumerate().map(|(j, v)| ((j + 1) as f64 * interval_s, *v));
            let line = LineSeries::new(points, colour.stroke_width(2));
            chart
                .draw_series(line)
                .map_err(drawing)?
                .label(cell.name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], colour.stroke_width(2)));
        }
        let mut labels = chart.configure_series_labels();
        labels.background_style(WHITE.mix(0.9)).border_style(BLACK).position(SeriesLabelPosition::UpperRight);
        labels.draw().map_err(drawing)?;
        root.present().map_err(drawing)?;
    }
    Ok(svg)
}

/// A chart in the page: its heading, and its SVG or, when it would have nothing to draw, a sentence instead.
struct Chart {
    heading: &'static str,
    drawn: Result<String, &'static str>,
}

fn charts(c: &Comparison) -> Result<Vec<Chart>, String> {
    let names: Vec<&str> = c.cells.iter().map(|x| x.name.as_str()).collect();
    let loss = Series {
        label: "seeds with loss",
        colour: RGBColor(200, 60, 50),
        values: c
            .cells
            .iter()
            .map(|x| (x.seeds_with_loss_share, Some((x.seeds_with_loss_ci95[0], x.seeds_with_loss_ci95[1]))))
            .collect(),
    };
    let share_axis = |label| Axis { label, range: 0.0..1.0, format: &|x: &f64| percent(*x) };
    let title = "Share of seeds that lost an acknowledged write (95% Wilson interval)";
    let loss_chart = bars(title, &share_axis("share of seeds"), &names, &[loss])?;
    // Latencies span 1 ms to minutes: drawn as log10 of milliseconds, from 0.1 ms.
    let log_ms = |ms: f64| ms.max(0.1).log10();
    let latency = |label, colour, pick: fn(&super::metrics::Percentiles) -> f64| Series {
        label,
        colour,
        values: c.cells.iter().map(|x| (x.produce_latency.as_ref().map_or(-1.0, |p| log_ms(pick(p))), None)).collect(),
    };
    let latencies = [
        latency("p50", RGBColor(90, 150, 210), |p| p.p50_ms),
        latency("p99", RGBColor(40, 90, 170), |p| p.p99_ms),
        latency("p99.9", RGBColor(20, 40, 100), |p| p.p999_ms),
    ];
    // One decade of room on the right for the legend.
    let top = latencies.iter().flat_map(|s| s.values.iter().map(|v| v.0)).fold(1.0, f64::max).ceil() + 1.0;
    let ms_label = |x: &f64| {
        let ms = 10f64.powf(*x);
        if ms < 1.0 { format!("{ms:.1}") } else { format!("{ms:.0}") }
    };
    let ms_axis = Axis { label: "ms (log scale)", range: -1.0..top, format: &ms_label };
    let latency_chart = bars("Produce latency, send() to acknowledgement", &ms_axis, &names, &latencies)?;
    let failed = Series {
        label: "sends failed",
        colour: RGBColor(220, 150, 40),
        values: c.cells.iter().map(|x| (x.failed_share_of_sent, None)).collect(),
    };
    let most = c.cells.iter().map(|x| x.failed_share_of_sent).fold(0.01, f64::max) * 1.05;
    let failed_axis = Axis { label: "share of sends", range: 0.0..most, format: &|x: &f64| percent(*x) };
    let failed_chart = bars("Produce availability: share of sends that failed", &failed_axis, &names, &[failed])?;
    let any_failed = c.cells.iter().any(|x| x.failed > 0);
    let any_lag = c.cells.iter().any(|x| x.lag_mean.iter().any(|v| *v > 0.0));
    let any_latency = c.cells.iter().any(|x| x.produce_latency.is_some());
    Ok(vec![
        Chart { heading: "Loss", drawn: Ok(loss_chart) },
        Chart {
            heading: "Latency",
            drawn: if any_latency { Ok(latency_chart) } else { Err("No send was acknowledged.") },
        },
        Chart {
            heading: "Availability",
            drawn: if any_failed { Ok(failed_chart) } else { Err("No send failed in any cell.") },
        },
        Chart {
            heading: "Lag",
            drawn: if any_lag { Ok(lag_chart(c)?) } else { Err("No group lagged (or the scenario has no consumers).") },
        },
    ])
}

/// Markdown's `code` spans in a finding as HTML.
fn inline_code(text: &str) -> String {
    let mut out = String::new();
    for (i, part) in escape(text).split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            out.push_str(part);
        }
    }
    out
}

const STYLE: &str = "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;font-size:14px}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}\
th:first-child,td:first-child{text-align:left}th{background:#f3f3f3}code{background:#f3f3f3;padding:1px 3px}\
.chart{margin:1.5em 0}.muted{color:#666;font-size:13px}";

pub fn html(c: &Comparison) -> Result<String, String> {
    let heading = escape(if c.title.is_empty() { &c.name } else { &c.title });
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{heading}</title>\n\
         <style>{STYLE}</style>\n</head>\n<body>\n<h1>{heading}</h1>\n"
    );
    let _ = writeln!(
        s,
        "<p class=\"muted\">Base scenario <code>{}</code> (FNV-1a 64 <code>{}</code>); every cell ran the same {} \
         seeds ({}), so each met the same fault draws. insync {}; all times simulated.</p>",
        escape(&c.base),
        c.base_fnv64,
        c.seed_count,
        c.seeds,
        c.insync_version
    );
    let (header, rows) = headline(c);
    s.push_str("<table id=\"headline\">\n<tr>");
    header.iter().for_each(|h| {
        let _ = write!(s, "<th>{}</th>", escape(h));
    });
    s.push_str("</tr>\n");
    for row in rows {
        s.push_str("<tr>");
        row.iter().for_each(|x| {
            let _ = write!(s, "<td>{}</td>", escape(x));
        });
        s.push_str("</tr>\n");
    }
    s.push_str("</table>\n<h2>Findings</h2>\n<ul>\n");
    for f in findings(c) {
        let _ = writeln!(s, "<li>{}</li>", inline_code(&f));
    }
    s.push_str("</ul>\n");
    for chart in charts(c)? {
        let _ = match chart.drawn {
            Ok(svg) => writeln!(s, "<h2>{}</h2>\n<div class=\"chart\">{svg}</div>", chart.heading),
            Err(why) => writeln!(s, "<h2>{}</h2>\n<p>{why}</p>", chart.heading),
        };
    }
    s.push_str("<h2>Worst seed per cell</h2>\n<ul>\n");
    for cell in &c.cells {
        match &cell.worst {
            Some(w) => {
                let _ = writeln!(
                    s,
                    "<li><b>{}</b>: {}<br><code>{}</code></li>",
                    escape(&cell.name),
                    w.described(),
                    escape(&w.reproduce)
                );
            }
            None => {
                let _ = writeln!(s, "<li><b>{}</b>: no seed did badly</li>", escape(&cell.name));
            }
        }
    }
    s.push_str("</ul>\n<h2>Cells</h2>\n<ul>\n");
    for cell in &c.cells {
        let sets: Vec<String> = cell.overrides.iter().map(|o| format!("<code>--set {}</code>", escape(o))).collect();
        let loss = percent(cell.seeds_with_loss_share);
        let _ = writeln!(s, "<li><b>{}</b> ({loss} of seeds lost writes): {}</li>", escape(&cell.name), sets.join(" "));
    }
    s.push_str("</ul>\n<p class=\"muted\">Every figure is in results.json and results.csv beside this page.</p>\n");
    s.push_str("</body>\n</html>\n");
    Ok(s)
}
