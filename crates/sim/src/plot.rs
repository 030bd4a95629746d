//! PNG plots of a sweep (plotters, bitmap backend; text drawn with the DejaVu Sans font
//! embedded by the `dejavu` crate, so no system font library is needed).

use crate::sweep::{Row, SweepSpec};
use anyhow::anyhow;
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::path::Path;
use std::sync::Once;

static FONT: Once = Once::new();

fn register_font() {
    FONT.call_once(|| {
        if plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
            .is_err()
        {
            panic!("the embedded DejaVu Sans font does not parse");
        }
    });
}

const COLORS: [RGBColor; 6] = [
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
];

/// Two panels: honest loss (%) and catch rate (%) against adversary share, one line per
/// committee size; dashed lines are the binomial-tail prediction of the catch rate.
pub fn sweep_png(path: &Path, spec: &SweepSpec, rows: &[Row]) -> anyhow::Result<()> {
    register_font();
    let root = BitMapBackend::new(path, (1400, 560)).into_drawing_area();
    root.fill(&WHITE)
        .map_err(|e| anyhow!("drawing {}: {e}", path.display()))?;
    let title = format!(
        "gradual-sim sweep: {} adversary, {} nodes, {} rounds, audit_sample {}",
        spec.strategy, spec.nodes, spec.rounds, spec.audit_sample
    );
    let root = root
        .titled(&title, ("sans-serif", 22))
        .map_err(|e| anyhow!("drawing title: {e}"))?;
    let (left, right) = root.split_horizontally(700);
    let max_share = spec.shares.iter().copied().fold(0.0f64, f64::max).max(1.0);
    let max_loss = rows
        .iter()
        .map(|r| r.honest_loss_pct)
        .fold(0.0f64, f64::max)
        .max(1.0)
        * 1.1;

    let mut loss = ChartBuilder::on(&left)
        .caption("honest reward lost (% of fair share)", ("sans-serif", 18))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_share, 0.0..max_loss)
        .map_err(|e| anyhow!("building chart: {e}"))?;
    loss.configure_mesh()
        .x_desc("adversary stake share (%)")
        .y_desc("honest loss (%)")
        .draw()
        .map_err(|e| anyhow!("drawing mesh: {e}"))?;
    let mut catch = ChartBuilder::on(&right)
        .caption("bad proofs voided (catch rate, %)", ("sans-serif", 18))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_share, 0.0..100.5)
        .map_err(|e| anyhow!("building chart: {e}"))?;
    catch
        .configure_mesh()
        .x_desc("adversary stake share (%)")
        .y_desc("catch rate (%)")
        .draw()
        .map_err(|e| anyhow!("drawing mesh: {e}"))?;

    for (ci, k) in spec.committees.iter().enumerate() {
        let color = COLORS[ci % COLORS.len()];
        let pts: Vec<&Row> = rows.iter().filter(|r| r.committee == *k).collect();
        loss.draw_series(LineSeries::new(
            pts.iter().map(|r| (r.share_pct, r.honest_loss_pct)),
            color.stroke_width(2),
        ))
        .map_err(|e| anyhow!("drawing series: {e}"))?
        .label(format!("K = {k}"))
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        loss.draw_series(
            pts.iter()
                .map(|r| Circle::new((r.share_pct, r.honest_loss_pct), 3, color.filled())),
        )
        .map_err(|e| anyhow!("drawing points: {e}"))?;
        let with_bad: Vec<&&Row> = pts.iter().filter(|r| r.bad_proofs > 0).collect();
        catch
            .draw_series(LineSeries::new(
                with_bad.iter().map(|r| (r.share_pct, r.catch_rate_pct)),
                color.stroke_width(2),
            ))
            .map_err(|e| anyhow!("drawing series: {e}"))?
            .label(format!("K = {k} measured"))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        catch
            .draw_series(
                with_bad
                    .iter()
                    .map(|r| Circle::new((r.share_pct, r.catch_rate_pct), 3, color.filled())),
            )
            .map_err(|e| anyhow!("drawing points: {e}"))?;
        // Binomial prediction, dashed (short segments).
        let pred: Vec<(f64, f64)> = with_bad
            .iter()
            .map(|r| (r.share_pct, r.predicted_catch_pct))
            .collect();
        for w in pred.windows(2) {
            let (a, b) = (w[0], w[1]);
            let segs = 8;
            for s in (0..segs).step_by(2) {
                let t0 = s as f64 / segs as f64;
                let t1 = (s + 1) as f64 / segs as f64;
                let p0 = (a.0 + (b.0 - a.0) * t0, a.1 + (b.1 - a.1) * t0);
                let p1 = (a.0 + (b.0 - a.0) * t1, a.1 + (b.1 - a.1) * t1);
                catch
                    .draw_series(std::iter::once(PathElement::new(
                        vec![p0, p1],
                        color.stroke_width(1),
                    )))
                    .map_err(|e| anyhow!("drawing prediction: {e}"))?;
            }
        }
    }
    loss.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(|e| anyhow!("drawing legend: {e}"))?;
    catch
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerLeft)
        .draw()
        .map_err(|e| anyhow!("drawing legend: {e}"))?;
    root.present()
        .map_err(|e| anyhow!("writing {}: {e}", path.display()))?;
    Ok(())
}
