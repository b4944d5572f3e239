//! The chart: one panel per kind of series over the run's time, drawn with plotters into a PNG.

use crate::sample::{BOUNDED_TABLES, GROWING_TABLES, Sample};
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};
use std::path::Path;

/// The font the text is drawn in (Debian's fonts-dejavu-core; `scripts/soak.sh` installs it).
const FONT_FILE: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
const FONT: &str = "sans-serif";

/// A panel: its title and the series it draws (with their legend names).
struct Panel {
    title: &'static str,
    series: Vec<&'static str>,
}

fn panels() -> Vec<Panel> {
    vec![
        Panel {
            title: "server RSS (MB)",
            series: vec!["rss_mb"],
        },
        Panel {
            title: "database connections",
            series: vec!["db_open", "db_idle", "db_server_connections"],
        },
        Panel {
            title: "outbox: messages waiting",
            series: vec!["outbox_pending"],
        },
        Panel {
            title: "latency per sample window (ms)",
            series: vec!["p50_ms", "p99_ms"],
        },
        Panel {
            title: "rows of the tables the clean-up bounds",
            series: BOUNDED_TABLES.to_vec(),
        },
        Panel {
            title: "rows that grow by design (counters: 2 days; log)",
            series: GROWING_TABLES.to_vec(),
        },
    ]
}

fn register() -> Result<(), Box<dyn std::error::Error>> {
    let bytes = std::fs::read(FONT_FILE).map_err(|e| format!("{FONT_FILE}: {e}"))?;
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    register_font(FONT, FontStyle::Normal, bytes)
        .map_err(|_| format!("{FONT_FILE}: not a font"))?;
    Ok(())
}

pub fn draw(
    path: &Path,
    label: &str,
    samples: &[Sample],
) -> Result<(), Box<dyn std::error::Error>> {
    register()?;
    let root = BitMapBackend::new(path, (1400, 1050)).into_drawing_area();
    root.fill(&WHITE)?;
    let title = format!("soak run on {label}: {} samples", samples.len());
    let root = root.titled(&title, (FONT, 26))?;
    let end = samples.last().map_or(1.0, |s| s.at_s).max(1.0);
    for (area, panel) in root.split_evenly((3, 2)).iter().zip(panels()) {
        draw_panel(area, &panel, samples, end)?;
    }
    root.present()?;
    Ok(())
}

fn draw_panel(
    area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    panel: &Panel,
    samples: &[Sample],
    end: f64,
) -> Result<(), Box<dyn std::error::Error>> {
    let lines: Vec<(&str, Vec<(f64, f64)>)> = panel
        .series
        .iter()
        .map(|name| {
            let points = samples
                .iter()
                .map(|s| (s.at_s, s.get(name)))
                .filter(|(_, v)| v.is_finite())
                .collect::<Vec<_>>();
            (*name, points)
        })
        .filter(|(_, points)| !points.is_empty())
        .collect();
    let top = lines
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(_, v)| *v))
        .fold(0.0_f64, f64::max);
    let mut chart = ChartBuilder::on(area)
        .caption(panel.title, (FONT, 18))
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..end, 0.0..(top * 1.15).max(1.0))?;
    chart
        .configure_mesh()
        .x_desc("seconds")
        .label_style((FONT, 13))
        .draw()?;
    for (i, (name, points)) in lines.into_iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
    }
    chart
        .configure_series_labels()
        .label_font((FONT, 13))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    Ok(())
}
