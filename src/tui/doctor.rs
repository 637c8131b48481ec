//! `:doctor` as an overlay: each finding (ok, skip, WARN, FAIL) of the
//! deployment's check with the command that fixes it; j/k scroll.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Clear;
use ratatui::Frame;

use super::app::App;
use crate::engine::doctor::{DoctorReport, Level};
use crate::sanitize::clean;

pub fn render(f: &mut Frame, area: Rect, app: &App, report: &DoctorReport) {
    let t = &app.theme;
    let popup = super::dialog::centered(area, 95, 85);
    f.render_widget(Clear, popup);
    let mut lines: Vec<Line> = Vec::new();
    for x in &report.findings {
        let (label, style) = match x.level {
            Level::Ok => ("ok  ", t.ok()),
            Level::Skip => ("skip", t.muted()),
            Level::Warn => ("WARN", t.warn()),
            Level::Fail => ("FAIL", t.error()),
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{label}  "), style),
            Span::styled(format!("{:<13}", x.area), t.muted()),
            Span::raw(clean(&x.what)),
        ]));
        if let Some(fix) = &x.fix {
            lines.push(Line::from(vec![
                Span::raw("      "),
                Span::styled("fix: ", t.accent()),
                Span::raw(clean(fix)),
            ]));
        }
    }
    let title = format!(
        "Doctor: {} ok, {} warnings, {} failures — j/k scroll, esc to close",
        report.count(Level::Ok),
        report.count(Level::Warn),
        report.count(Level::Fail)
    );
    f.render_widget(super::dialog::pager(app, lines, &title), popup);
}

#[cfg(test)]
mod tests {
    use super::super::app::Focus;
    use super::super::fixture::{app, render};
    use crate::engine::doctor::{DoctorReport, Level};

    #[test]
    fn doctor_overlay() {
        let mut r = DoctorReport::default();
        r.push("brokers", Level::Ok, "127.0.0.1:9092 reachable");
        r.push_fix(
            "topics",
            Level::Fail,
            "dev.dlq is compacted: Kafka refuses keyless records there",
            "kafka-configs.sh --alter --entity-name dev.dlq --add-config cleanup.policy=delete",
        );
        r.push(
            "group",
            Level::Warn,
            "member aiokafka-0.12.0 on 10.0.0.9 is not archon-tui",
        );
        let a = app(Focus::Dlq);
        for (w, h) in [(80, 24), (160, 30)] {
            let shown = render(w, h, |f| super::render(f, f.area(), &a, &r));
            assert!(shown.contains("FAIL") && shown.contains("fix:"), "{shown}");
            insta::assert_snapshot!(format!("doctor_{w}x{h}"), shown);
        }
    }
}
