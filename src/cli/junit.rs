//! JUnit XML for CI reporters, valid against Jenkins' xunit schema (junit-10.xsd, committed under
//! `tests/fixtures/`): a `<testsuites>` root with one `<testsuite>` per run, checked history or sweep, the seed
//! (or seeds) and the scenario's hash as `<properties>`, one `<testcase>` per expectation (for a sweep, per group
//! of seeds failing the same expectations) with a `<failure>` when it is unmet, and the reproduce command in
//! `<system-out>`. Times are simulated seconds; the timestamp is the simulated clock's
//! origin, since nothing in a run reads the wall clock. Written with quick-xml, which escapes markup; characters
//! XML 1.0 cannot carry at all (control characters) are written as `\u{..}`.

use crate::check::verdict::{Verdict, WITNESSES_SHOWN};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};
use std::io;

/// The simulated clock's origin, as the suite's timestamp.
const SIMULATED_ORIGIN: &str = "1970-01-01T00:00:00";

/// One suite: a run of a scenario, a checked history, or a sweep of seeds.
pub struct Suite<'a> {
    pub name: &'a str,
    /// Shown as `<property>`s: seed, file, hash, version.
    pub properties: Vec<(&'static str, String)>,
    /// Simulated seconds the run covered (0 for a recorded history; every seed's for a sweep).
    pub time_s: f64,
    pub cases: Vec<Case>,
    pub reproduce: &'a str,
}

/// A test case: its name, its simulated seconds, and its failure if it failed.
pub struct Case {
    pub name: String,
    pub time_s: f64,
    pub failure: Option<Failure>,
}

/// What failed: `kind` is the failure's `type` (the expectation's kind), `message` one line, `body` the detail.
pub struct Failure {
    pub kind: &'static str,
    pub message: String,
    pub body: String,
}

/// The document, or an I/O error of the in-memory writer (which cannot happen, but is not hidden).
pub fn write(suite: &Suite<'_>) -> io::Result<String> {
    let cases = &suite.cases;
    let failures = cases.iter().filter(|c| c.failure.is_some()).count();
    let (tests, failures, time) = (cases.len().to_string(), failures.to_string(), format!("{:.3}", suite.time_s));
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let name = xml_chars(suite.name);
    let root = [("name", "insync"), ("tests", &tests), ("failures", &failures), ("errors", "0"), ("time", &time)];
    w.create_element("testsuites").with_attributes(root).write_inner_content(|w| {
        let attributes = [
            ("name", name.as_str()),
            ("tests", &tests),
            ("failures", &failures),
            ("errors", "0"),
            ("skipped", "0"),
            ("time", &time),
            ("timestamp", SIMULATED_ORIGIN),
        ];
        w.create_element("testsuite").with_attributes(attributes).write_inner_content(|w| {
            write_properties(w, &suite.properties)?;
            for case in cases {
                write_case(w, &name, case)?;
            }
            let out = xml_chars(&format!("reproduce: {}", suite.reproduce));
            w.create_element("system-out").write_text_content(BytesText::new(&out))?;
            Ok(())
        })?;
        Ok(())
    })?;
    let mut text = String::from_utf8(w.into_inner()).map_err(io::Error::other)?;
    text.push('\n');
    Ok(text)
}

/// One case per expectation of a run (each taking the run's `time_s`); a scenario without any still gets one
/// passing "ran" case, so a CI reporter always finds a result.
pub fn verdict_cases(verdict: Option<&Verdict>, time_s: f64, reproduce: &str) -> Vec<Case> {
    let Some(verdict) = verdict.filter(|v| !v.results.is_empty()) else {
        return vec![Case { name: "ran".to_string(), time_s, failure: None }];
    };
    let case = |r: &crate::check::verdict::ExpectationResult| {
        let failure = (!r.met).then(|| {
            let mut body = r.detail.clone();
            for w in r.witnesses.iter().take(WITNESSES_SHOWN) {
                body.push_str(&format!("\n{w}"));
            }
            body.push_str(&format!("\nreproduce: {reproduce}"));
            Failure { kind: r.kind, message: r.detail.clone(), body }
        });
        Case { name: format!("{} {}", r.kind, r.name), time_s, failure }
    };
    verdict.results.iter().map(case).collect()
}

/// Without `--holds`, `insync check`'s cases: one per invariant judged, failed when it was violated (with its
/// first witnesses), in the order the checker lists them.
pub fn invariant_cases(verdict: &Verdict, reproduce: &str) -> Vec<Case> {
    let case = |(&name, &count): (&&'static str, &usize)| {
        let failure = (count > 0).then(|| {
            let message = format!("{count} violations");
            let mut body = message.clone();
            for w in verdict.witnesses.get(name).into_iter().flatten().take(WITNESSES_SHOWN) {
                body.push_str(&format!("\n{w}"));
            }
            body.push_str(&format!("\nreproduce: {reproduce}"));
            Failure { kind: "invariant", message, body }
        });
        Case { name: format!("invariant {name}"), time_s: 0.0, failure }
    };
    let order = |name: &str| crate::check::INVARIANTS.iter().position(|&i| i == name);
    let mut cases: Vec<(Option<usize>, Case)> =
        verdict.violations.iter().map(|entry| (order(entry.0), case(entry))).collect();
    cases.sort_by_key(|(at, _)| *at);
    cases.into_iter().map(|(_, c)| c).collect()
}

fn write_properties(w: &mut Writer<Vec<u8>>, properties: &[(&'static str, String)]) -> io::Result<()> {
    w.create_element("properties").write_inner_content(|w| {
        for (name, value) in properties {
            let value = xml_chars(value);
            w.create_element("property").with_attributes([("name", *name), ("value", value.as_str())]).write_empty()?;
        }
        Ok(())
    })?;
    Ok(())
}

fn write_case(w: &mut Writer<Vec<u8>>, suite: &str, case: &Case) -> io::Result<()> {
    let (name, time) = (xml_chars(&case.name), format!("{:.3}", case.time_s));
    let attributes = [("classname", suite), ("name", &name), ("time", &time)];
    let element = w.create_element("testcase").with_attributes(attributes);
    let Some(Failure { kind, message, body }) = &case.failure else {
        element.write_empty()?;
        return Ok(());
    };
    element.write_inner_content(|w| {
        let (message, body) = (xml_chars(message), xml_chars(body));
        let failure = w.create_element("failure").with_attributes([("message", message.as_str()), ("type", *kind)]);
        failure.write_text_content(BytesText::new(&body))?;
        Ok(())
    })?;
    Ok(())
}

/// The text with every character XML 1.0 cannot carry (C0 controls but tab, newline and carriage return; the
/// non-characters U+FFFE and U+FFFF) written as `\u{..}`.
fn xml_chars(s: &str) -> String {
    let forbidden =
        |c: char| matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}');
    if !s.chars().any(forbidden) {
        return s.to_string();
    }
    s.chars().map(|c| if forbidden(c) { c.escape_unicode().to_string() } else { c.to_string() }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::verdict::ExpectationResult;

    fn suite<'a>(name: &'a str, verdict: Option<&'a Verdict>) -> Suite<'a> {
        let properties = vec![("seed", "7".to_string())];
        let reproduce = "insync run s.toml --seed 7";
        Suite { name, properties, time_s: 90.0, cases: verdict_cases(verdict, 90.0, reproduce), reproduce }
    }

    #[test]
    fn an_unmet_expectation_is_a_failure_with_its_kind_and_the_reproduce_line() {
        let result = |met| ExpectationResult {
            kind: "holds",
            name: "at-least-once".to_string(),
            met,
            detail: "2 violations".to_string(),
            count: 2,
            witnesses: vec![crate::check::verdict::Witness::said("w1".to_string())],
        };
        let v = Verdict { results: vec![result(true), result(false)], ..Default::default() };
        let xml = write(&suite("s", Some(&v))).unwrap();
        assert!(xml.contains(r#"<testsuites name="insync" tests="2" failures="1" errors="0" time="90.000">"#), "{xml}");
        assert!(xml.contains(r#"<failure message="2 violations" type="holds">2 violations"#), "{xml}");
        assert!(xml.contains("w1\nreproduce: insync run s.toml --seed 7</failure>"), "{xml}");
        assert!(xml.contains(r#"<property name="seed" value="7"/>"#), "{xml}");
    }

    #[test]
    fn a_run_without_expectations_still_reports_one_passing_case() {
        let xml = write(&suite("s", None)).unwrap();
        assert!(xml.contains(r#"<testcase classname="s" name="ran" time="90.000"/>"#), "{xml}");
        assert!(xml.contains(r#"tests="1" failures="0""#), "{xml}");
    }

    #[test]
    fn markup_is_escaped_and_control_characters_spelled_out() {
        let xml = write(&suite("a<b>&\"c\u{1}\u{1b}", None)).unwrap();
        assert!(xml.contains(r#"name="a&lt;b&gt;&amp;&quot;c\u{1}\u{1b}""#), "{xml}");
        assert!(!xml.chars().any(|c| c < ' ' && c != '\n'), "no raw control characters");
    }
}
