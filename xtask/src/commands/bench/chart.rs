//! Small SVG line charts of the growth curves (x on a log scale: sizes grow tenfold), written next
//! to the report by the bench and linked from it. Pure text in, text out: snapshot-tested.

use std::fmt::Write as _;

/// One chart: a file name (without `.svg`), labels, and a few series of (x, y) points.
#[derive(Debug, Clone, Default)]
pub struct Chart {
    pub file: String,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
}

#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

const WIDTH: f64 = 560.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 180.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 46.0;
/// Colour-blind-safe (Okabe–Ito), in series order.
const COLOURS: [&str; 6] = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"];

impl Chart {
    pub fn svg(&self) -> String {
        let xs: Vec<f64> = self.series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).filter(|x| *x > 0.0).collect();
        let ys: Vec<f64> = self.series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).collect();
        let (x_min, x_max) = (xs.iter().copied().fold(f64::INFINITY, f64::min), xs.iter().copied().fold(0.0, f64::max));
        let (lx_min, lx_max) =
            if xs.is_empty() { (0.0, 1.0) } else { (x_min.log10(), x_max.log10().max(x_min.log10() + 1e-9)) };
        let y_top = ys.iter().copied().fold(0.0, f64::max);
        let y_bottom = ys.iter().copied().filter(|y| *y > 0.0).fold(f64::INFINITY, f64::min);
        // Series a hundred times apart (our calls beside `aws s3 sync`'s) only read on a log scale.
        let log_y = y_bottom.is_finite() && y_top / y_bottom >= 50.0;
        let (y_step, y_max) = if log_y {
            (10.0, 10f64.powf(y_top.log10().ceil()))
        } else {
            let step = nice_step(y_top);
            (step, (y_top / step).ceil().max(1.0) * step)
        };
        let y_min = if log_y { 10f64.powf(y_bottom.log10().floor()) } else { 0.0 };
        let (plot_w, plot_h) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
        let px = |x: f64| LEFT + (x.log10() - lx_min) / (lx_max - lx_min) * plot_w;
        let py = |y: f64| {
            let share = if log_y {
                (y.max(y_min).log10() - y_min.log10()) / (y_max.log10() - y_min.log10())
            } else {
                y / y_max
            };
            TOP + plot_h - share * plot_h
        };

        let mut out = String::new();
        let _ = writeln!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">"#
        );
        let _ = writeln!(out, r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#);
        let _ =
            writeln!(out, r#"<text x="{LEFT}" y="18" font-size="13" font-weight="bold">{}</text>"#, esc(&self.title));
        // Horizontal grid and y ticks.
        let mut y = y_min;
        while y <= y_max * 1.0001 + if log_y { 0.0 } else { y_step / 2.0 } {
            let at = py(y);
            let _ = writeln!(
                out,
                r##"<line x1="{LEFT}" y1="{at:.1}" x2="{:.1}" y2="{at:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                LEFT + plot_w,
                LEFT - 6.0,
                at + 4.0,
                label(y)
            );
            y = if log_y { y * y_step } else { y + y_step };
        }
        // x ticks at every distinct x.
        let mut ticks = xs;
        ticks.sort_by(f64::total_cmp);
        ticks.dedup();
        for x in ticks {
            let at = px(x);
            let _ = writeln!(
                out,
                r##"<line x1="{at:.1}" y1="{TOP}" x2="{at:.1}" y2="{:.1}" stroke="#eee"/><text x="{at:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                TOP + plot_h,
                TOP + plot_h + 16.0,
                label(x)
            );
        }
        let _ = writeln!(
            out,
            r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w:.1}" height="{plot_h:.1}" fill="none" stroke="#888"/>"##
        );
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            LEFT + plot_w / 2.0,
            HEIGHT - 10.0,
            esc(&self.x_label)
        );
        let y_label = if log_y { format!("{} (log scale)", self.y_label) } else { self.y_label.clone() };
        let _ = writeln!(
            out,
            r#"<text transform="translate(14 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
            TOP + plot_h / 2.0,
            esc(&y_label)
        );
        for (i, series) in self.series.iter().enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            let points: Vec<String> = series
                .points
                .iter()
                .filter(|p| p.0 > 0.0)
                .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
                .collect();
            let _ = writeln!(
                out,
                r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
                points.join(" ")
            );
            for p in &points {
                let (x, y) = p.split_once(',').expect("formatted as x,y");
                let _ = writeln!(out, r#"<circle cx="{x}" cy="{y}" r="3" fill="{colour}"/>"#);
            }
            let ly = TOP + 8.0 + i as f64 * 18.0;
            let lx = LEFT + plot_w + 12.0;
            let _ = writeln!(
                out,
                r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{colour}" stroke-width="2"/><text x="{:.1}" y="{:.1}">{}</text>"#,
                lx + 18.0,
                lx + 24.0,
                ly + 4.0,
                esc(&series.name)
            );
        }
        out.push_str("</svg>\n");
        out
    }
}

/// A round step for about five grid lines up to `max`.
fn nice_step(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let raw = max / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(10.0 * magnitude)
}

/// `100`, `2.5`, `10k`, `1.5M`.
fn label(v: f64) -> String {
    let trim = |s: String| if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
    if v.abs() >= 1e6 {
        format!("{}M", trim(format!("{:.1}", v / 1e6)))
    } else if v.abs() >= 1e4 {
        format!("{}k", trim(format!("{:.1}", v / 1e3)))
    } else {
        trim(format!("{v:.2}"))
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::{Chart, Series, label, nice_step};

    #[test]
    fn labels_and_steps_are_round() {
        assert_eq!(
            [0.0, 2.5, 100.0, 10_000.0, 150_000.0, 1_500_000.0].map(label),
            ["0", "2.5", "100", "10k", "150k", "1.5M"]
        );
        assert_eq!([7.0, 42.0, 230.0, 0.0].map(nice_step), [2.0, 10.0, 50.0, 1.0]);
    }

    #[test]
    fn a_curve_renders_one_polyline_and_marker_per_point() {
        let chart = Chart {
            file: "sync-reads".into(),
            title: "Reads per sync <no-op>".into(),
            x_label: "site files".into(),
            y_label: "calls".into(),
            series: vec![
                Series { name: "xtask".into(), points: vec![(100.0, 5.0), (1000.0, 5.0), (10_000.0, 14.0)] },
                Series { name: "goal".into(), points: vec![(100.0, 3.0), (1000.0, 3.0), (10_000.0, 12.0)] },
            ],
        };
        let svg = chart.svg();
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 6);
        assert!(svg.contains("Reads per sync &lt;no-op&gt;"));
        // Log scale: 1,000 sits halfway between 100 and 10,000.
        let line = svg.lines().find(|l| l.starts_with("<polyline")).unwrap();
        let xs: Vec<f64> =
            line.split('"').nth(1).unwrap().split(' ').map(|p| p.split_once(',').unwrap().0.parse().unwrap()).collect();
        assert!((xs[1] - (xs[0] + xs[2]) / 2.0).abs() < 0.2, "{xs:?}");
        assert!(!svg.contains("calls (log scale)"), "5 to 14 reads on a linear scale");
    }

    #[test]
    fn series_a_hundred_times_apart_get_a_log_y_axis() {
        let chart = Chart {
            series: vec![
                Series { name: "xtask".into(), points: vec![(100.0, 8.0), (1000.0, 9.0)] },
                Series { name: "aws s3 sync".into(), points: vec![(100.0, 101.0), (1000.0, 1001.0)] },
            ],
            y_label: "calls".into(),
            ..Chart::default()
        };
        let svg = chart.svg();
        assert!(svg.contains("calls (log scale)"));
        // Grid lines at 1, 10, 100, 1,000 and 10,000.
        for tick in [">1<", ">10<", ">100<", ">1000<", ">10k<"] {
            assert!(svg.contains(tick), "{tick} missing");
        }
    }
}
