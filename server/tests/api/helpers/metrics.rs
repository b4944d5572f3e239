//! Reading `/metrics` as Prometheus writes it: one sample per line, `name{label="value",…} number`.

use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// One scrape of `/metrics`, parsed.
#[derive(Debug, Clone)]
pub struct Scrape {
    pub text: String,
    pub samples: Vec<Sample>,
}

impl Scrape {
    pub fn parse(text: &str) -> Scrape {
        let samples = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|line| parse_line(line).unwrap_or_else(|| panic!("not a sample: {line:?}")))
            .collect();
        Scrape {
            text: text.to_string(),
            samples,
        }
    }

    /// The sample of `name` whose labels are exactly `labels`, if it was written.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let wanted: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.samples
            .iter()
            .find(|s| s.name == name && s.labels == wanted)
            .map(|s| s.value)
    }

    /// As `get`, with a sample that was never written counting as 0 (a counter not yet touched).
    pub fn count(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels).unwrap_or(0.0)
    }

    /// Every sample of `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| s.name == name)
    }

    /// The lines worth quoting in a report: counters, gauges and each histogram's count and sum
    /// (its buckets left out).
    pub fn report_lines(&self) -> Vec<&str> {
        self.text
            .lines()
            .filter(|l| l.starts_with("console_") && !l.contains("_bucket{"))
            .collect()
    }
}

fn parse_line(line: &str) -> Option<Sample> {
    let (series, value) = line.rsplit_once(' ')?;
    let value = value.parse().ok()?;
    let (name, labels) = match series.split_once('{') {
        None => (series.to_string(), BTreeMap::new()),
        Some((name, rest)) => (name.to_string(), parse_labels(rest.strip_suffix('}')?)?),
    };
    Some(Sample {
        name,
        labels,
        value,
    })
}

/// `a="x",b="y"`: values may hold commas and escaped quotes.
fn parse_labels(text: &str) -> Option<BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '\\' => value.push(chars.next()?.1),
                '"' => break i,
                c => value.push(c),
            }
        };
        labels.insert(key.to_string(), value);
        rest = after[end + 1..].trim_start_matches(',');
    }
    Some(labels)
}

#[test]
fn samples_parse_with_their_labels() {
    let scrape = Scrape::parse(
        "# TYPE x counter\nx{a=\"1\",b=\"p,q\"} 3\ny 0.5\nz{route=\"/a/{id}\",s=\"say \\\"hi\\\"\"} 2\n",
    );
    assert_eq!(scrape.get("x", &[("b", "p,q"), ("a", "1")]), Some(3.0));
    assert_eq!(scrape.get("y", &[]), Some(0.5));
    assert_eq!(
        scrape.get("z", &[("route", "/a/{id}"), ("s", "say \"hi\"")]),
        Some(2.0)
    );
    assert_eq!(scrape.count("x", &[("a", "2")]), 0.0);
}

impl super::TestApp {
    /// `GET /metrics` (open: development on loopback), parsed.
    pub async fn scrape(&self) -> Scrape {
        let response = self.get("/metrics", None).await;
        assert_eq!(response.status().as_u16(), 200, "GET /metrics");
        Scrape::parse(&response.text().await.unwrap())
    }
}
