//! What the self-contained HTML pages share (the comparison's `index.html`, the timeline): escaping, the font
//! charts are drawn in, and the error a failed drawing becomes.

use plotters::drawing::DrawingAreaErrorKind;

/// Charts name only a generic family: plotters' SVG backend is built without font support, so nothing is fetched.
pub const FONT: &str = "sans-serif";

/// `text` safe inside an element or a double-quoted attribute.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

pub fn drawing<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> String {
    format!("drawing a chart: {e}")
}
