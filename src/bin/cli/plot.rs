//! Hand-written SVG for `infw eval --plot` and `infw train --plot`: the score
//! distributions of attacks and benign texts with thresholds marked (left) and
//! the ROC curve with a logarithmic FPR axis (right). No plotting crate.

use std::fmt::Write;

const W: f64 = 1000.0;
const H: f64 = 420.0;
const PAD: f64 = 50.0;
const PANEL: f64 = 420.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Renders the figure. `range` is the score axis; `marks` are named thresholds.
pub fn svg(
    title: &str,
    attack: &[f64],
    benign: &[f64],
    marks: &[(String, f64)],
    range: (f64, f64),
) -> String {
    let (lo, hi) = if range.1 > range.0 {
        range
    } else {
        (range.0, range.0 + 1.0)
    };
    let bins = 40usize;
    let hist = |v: &[f64]| {
        let mut h = vec![0f64; bins];
        for x in v {
            let b = (((x - lo) / (hi - lo)) * bins as f64)
                .floor()
                .clamp(0.0, (bins - 1) as f64) as usize;
            h[b] += 1.0;
        }
        let n = v.len().max(1) as f64;
        h.into_iter().map(|c| c / n).collect::<Vec<f64>>()
    };
    let (ha, hb) = (hist(attack), hist(benign));
    let ymax = ha
        .iter()
        .chain(&hb)
        .copied()
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="20" text-anchor="middle" font-size="15">{}</text>
"#,
        W / 2.0,
        esc(title)
    );
    // Left panel: histograms.
    let (x0, y0, pw, ph) = (PAD, PAD, PANEL, H - 2.0 * PAD);
    let _ = writeln!(
        s,
        r##"<rect x="{x0}" y="{y0}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>"##
    );
    let bw = pw / bins as f64;
    for (h, color) in [(&hb, "#1f77b4"), (&ha, "#d62728")] {
        for (i, v) in h.iter().enumerate() {
            if *v <= 0.0 {
                continue;
            }
            let bh = (v / ymax).sqrt() * ph;
            let _ = writeln!(
                s,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{color}" fill-opacity="0.45"/>"#,
                x0 + i as f64 * bw,
                y0 + ph - bh,
                bw,
                bh
            );
        }
    }
    for k in 0..=4 {
        let v = lo + (hi - lo) * k as f64 / 4.0;
        let x = x0 + pw * k as f64 / 4.0;
        let _ = writeln!(
            s,
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{v:.2}</text>"#,
            y0 + ph + 16.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">score (share of each class per bin, square-root scale)</text>"#,
        x0 + pw / 2.0,
        y0 + ph + 34.0
    );
    for (i, (name, t)) in marks.iter().enumerate() {
        let x = x0 + ((t - lo) / (hi - lo)).clamp(0.0, 1.0) * pw;
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" y1="{y0}" x2="{x:.1}" y2="{:.1}" stroke="#222" stroke-dasharray="4,3"/><text x="{:.1}" y="{:.1}">{}</text>"##,
            y0 + ph,
            x + 3.0,
            y0 + 14.0 + 14.0 * i as f64,
            esc(&format!("{name} ({t:.3})"))
        );
    }
    let _ = writeln!(
        s,
        r##"<rect x="{x0}" y="{:.1}" width="10" height="10" fill="#d62728" fill-opacity="0.6"/><text x="{:.1}" y="{:.1}">attack ({})</text><rect x="{:.1}" y="{:.1}" width="10" height="10" fill="#1f77b4" fill-opacity="0.6"/><text x="{:.1}" y="{:.1}">benign ({})</text>"##,
        y0 - 16.0,
        x0 + 14.0,
        y0 - 7.0,
        attack.len(),
        x0 + 120.0,
        y0 - 16.0,
        x0 + 134.0,
        y0 - 7.0,
        benign.len()
    );
    // Right panel: ROC, log FPR from 1e-3 to 1.
    let (rx, ry) = (x0 + pw + 2.0 * PAD, y0);
    let _ = writeln!(
        s,
        r##"<rect x="{rx}" y="{ry}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>"##
    );
    let fx = |f: f64| rx + ((f.max(1e-3).log10() + 3.0) / 3.0) * pw;
    let ty = |t: f64| ry + ph - t * ph;
    for (k, label) in [(1e-3, "0.1%"), (1e-2, "1%"), (1e-1, "10%"), (1.0, "100%")] {
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" y1="{ry}" x2="{x:.1}" y2="{:.1}" stroke="#ddd"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{label}</text>"##,
            ry + ph,
            ry + ph + 16.0,
            x = fx(k)
        );
    }
    for k in 0..=4 {
        let t = k as f64 / 4.0;
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{t:.2}</text>"#,
            rx - 4.0,
            ty(t) + 4.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">false positive rate (log)</text><text x="{:.1}" y="{:.1}" text-anchor="middle" transform="rotate(-90 {:.1} {:.1})">true positive rate</text>"#,
        rx + pw / 2.0,
        ry + ph + 34.0,
        rx - 34.0,
        ry + ph / 2.0,
        rx - 34.0,
        ry + ph / 2.0
    );
    let mut pts: Vec<(f64, f64)> = Vec::new();
    let mut all: Vec<(f64, bool)> = attack
        .iter()
        .map(|x| (*x, true))
        .chain(benign.iter().map(|x| (*x, false)))
        .collect();
    all.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (na, nb) = (attack.len().max(1) as f64, benign.len().max(1) as f64);
    let (mut tp, mut fp) = (0f64, 0f64);
    let mut i = 0;
    while i < all.len() {
        let v = all[i].0;
        while i < all.len() && all[i].0 == v {
            if all[i].1 {
                tp += 1.0
            } else {
                fp += 1.0
            }
            i += 1;
        }
        pts.push((fx(fp / nb), ty(tp / na)));
    }
    let path: Vec<String> = pts.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
    let _ = writeln!(
        s,
        r##"<polyline points="{}" fill="none" stroke="#d62728" stroke-width="2"/>"##,
        path.join(" ")
    );
    for (i, (name, t)) in marks.iter().enumerate() {
        let tpr = attack.iter().filter(|x| **x > *t).count() as f64 / na;
        let fpr = benign.iter().filter(|x| **x > *t).count() as f64 / nb;
        let _ = writeln!(
            s,
            r##"<circle cx="{:.1}" cy="{:.1}" r="4" fill="#222"/><text x="{:.1}" y="{:.1}">{}</text>"##,
            fx(fpr),
            ty(tpr),
            fx(fpr) + 6.0,
            ty(tpr) + 16.0 + 16.0 * i as f64,
            esc(&format!("{name}: TPR {tpr:.3} FPR {fpr:.3}"))
        );
    }
    s.push_str("</svg>\n");
    s
}
