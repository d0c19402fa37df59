//! The lines the viewer holds: bounded (the oldest dropped, and counted), ANSI colour codes
//! turned into style runs, timestamps split off so they can be shown or hidden, and the
//! matches of the search.

use std::collections::VecDeque;

/// The most lines kept; older ones are dropped (and a marker says how many).
pub const MAX_LINES: usize = 100_000;
/// The most text kept, in bytes, whatever the number of lines.
pub const MAX_BYTES: usize = 48 * 1024 * 1024;

/// One row of the viewer: a log line, or a notice from the server.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Index into [`LogBuffer::pods`].
    pub pod: u16,
    pub timestamp: Option<Box<str>>,
    /// The text without its escape codes.
    pub text: Box<str>,
    /// Style changes: (byte offset into `text`, style); empty for plain lines.
    pub styles: Vec<(u32, Style)>,
    pub kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Log,
    Info,
    Error,
}

/// An SGR state: foreground colour (0 none, 1–8 the standard colours, 9–16 the bright ones)
/// and bold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Style {
    pub fg: u8,
    pub bold: bool,
}

impl Style {
    /// The CSS classes of a styled piece.
    pub fn class(self) -> String {
        let mut class = String::new();
        if self.fg > 0 {
            class.push_str(&format!("ansi-fg{}", self.fg - 1));
        }
        if self.bold {
            class.push_str(if class.is_empty() { "ansi-bold" } else { " ansi-bold" });
        }
        class
    }
}

#[derive(Default)]
pub struct LogBuffer {
    pub lines: VecDeque<Line>,
    pub pods: Vec<String>,
    bytes: usize,
    /// Lines dropped from the front to stay within the caps.
    pub dropped: u64,
    /// Lines ever added (so a position can be told apart after drops).
    pub added: u64,
    query: String,
    /// Absolute numbers (`added` at the time) of matching lines, in order.
    matches: VecDeque<u64>,
}

impl LogBuffer {
    pub fn clear(&mut self) {
        let query = std::mem::take(&mut self.query);
        *self = Self { query, ..Self::default() };
    }

    pub fn pod_index(&mut self, pod: &str) -> u16 {
        match self.pods.iter().position(|p| p == pod) {
            Some(i) => i as u16,
            None => {
                self.pods.push(pod.to_owned());
                (self.pods.len() - 1) as u16
            }
        }
    }

    /// Adds a raw line as received (`timestamped`: it starts with an RFC 3339 timestamp).
    pub fn push_log(&mut self, pod: u16, raw: &str, timestamped: bool) {
        let (timestamp, rest) = match raw.split_once(' ') {
            Some((ts, rest)) if timestamped && looks_like_timestamp(ts) => (Some(ts.into()), rest),
            _ => (None, raw),
        };
        let (text, styles) = strip_ansi(rest);
        self.push(Line { pod, timestamp, text: text.into(), styles, kind: Kind::Log });
    }

    pub fn push(&mut self, line: Line) {
        self.bytes += line.text.len() + line.timestamp.as_ref().map_or(0, |t| t.len()) + 48;
        if !self.query.is_empty() && matches(&line.text, &self.query) {
            self.matches.push_back(self.added);
        }
        self.lines.push_back(line);
        self.added += 1;
        while self.lines.len() > MAX_LINES || (self.bytes > MAX_BYTES && self.lines.len() > 1) {
            if let Some(old) = self.lines.pop_front() {
                self.bytes -= old.text.len() + old.timestamp.as_ref().map_or(0, |t| t.len()) + 48;
                self.dropped += 1;
            }
        }
        let first = self.first_number();
        while self.matches.front().is_some_and(|m| *m < first) {
            self.matches.pop_front();
        }
    }

    /// The absolute number of the first line held.
    pub fn first_number(&self) -> u64 {
        self.added - self.lines.len() as u64
    }

    /// Sets the search text (case-insensitive for ASCII) and finds every match.
    pub fn search(&mut self, query: &str) {
        self.query = query.to_ascii_lowercase();
        let first = self.first_number();
        self.matches = if self.query.is_empty() {
            VecDeque::new()
        } else {
            self.lines
                .iter()
                .enumerate()
                .filter(|(_, l)| matches(&l.text, &self.query))
                .map(|(i, _)| first + i as u64)
                .collect()
        };
    }

    /// Row indices (into `lines`) of the matches.
    pub fn match_rows(&self) -> impl Iterator<Item = usize> + '_ {
        let first = self.first_number();
        self.matches.iter().map(move |m| (m - first) as usize)
    }

    pub fn match_count(&self) -> usize {
        self.matches.len()
    }
}

fn matches(text: &str, lowered_query: &str) -> bool {
    if text.is_ascii() && lowered_query.len() <= text.len() {
        text.as_bytes().windows(lowered_query.len()).any(|w| w.eq_ignore_ascii_case(lowered_query.as_bytes()))
    } else {
        text.to_ascii_lowercase().contains(lowered_query)
    }
}

/// Byte ranges of `lowered_query` in `text` (ASCII case-insensitive, not overlapping).
pub fn match_ranges(text: &str, lowered_query: &str) -> Vec<(usize, usize)> {
    if lowered_query.is_empty() {
        return Vec::new();
    }
    let lowered = text.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = lowered[from..].find(lowered_query) {
        let start = from + at;
        out.push((start, start + lowered_query.len()));
        from = start + lowered_query.len();
    }
    out
}

/// `2026-11-29T10:00:00.123456789Z`-like.
fn looks_like_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 20
        && b[4] == b'-'
        && b[10] == b'T'
        && (s.ends_with('Z') || b[b.len() - 6] == b'+' || b[b.len() - 6] == b'-')
}

/// A timestamp as a key that sorts in time order (fractions padded to nanoseconds).
pub fn timestamp_key(ts: &str) -> String {
    let (whole, rest) = ts.split_at(ts.len().min(19));
    let fraction =
        rest.strip_prefix('.').map(|r| r.trim_end_matches(|c: char| !c.is_ascii_digit())).unwrap_or("");
    format!("{whole}.{fraction:0<9}")
}

/// Removes ANSI escape sequences, keeping the colours and bold of SGR codes as style runs;
/// other sequences (cursor movement, titles) are dropped.
pub fn strip_ansi(raw: &str) -> (String, Vec<(u32, Style)>) {
    if !raw.contains('\u{1b}') {
        return (raw.to_owned(), Vec::new());
    }
    let mut text = String::with_capacity(raw.len());
    let mut styles = Vec::new();
    let mut style = Style::default();
    let mut chars = raw.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c != '\u{1b}' {
            text.push(c);
            continue;
        }
        match chars.peek().map(|(_, c)| *c) {
            Some('[') => {
                chars.next();
                let mut params = String::new();
                let mut last = None;
                for (_, c) in chars.by_ref() {
                    if ('\u{40}'..='\u{7e}').contains(&c) {
                        last = Some(c);
                        break;
                    }
                    params.push(c);
                }
                if last == Some('m') {
                    let before = style;
                    apply_sgr(&mut style, &params);
                    if style != before {
                        let at = text.len() as u32;
                        if styles.last().is_some_and(|(o, _)| *o == at) {
                            styles.pop();
                        }
                        styles.push((at, style));
                    }
                }
            }
            // OSC (titles, links): up to BEL or ESC \.
            Some(']') => {
                chars.next();
                while let Some((_, c)) = chars.next() {
                    if c == '\u{7}' {
                        break;
                    }
                    if c == '\u{1b}' {
                        chars.next();
                        break;
                    }
                }
            }
            Some(_) => {
                chars.next();
            }
            None => {}
        }
    }
    if styles.iter().all(|(_, s)| *s == Style::default()) {
        styles.clear();
    }
    (text, styles)
}

fn apply_sgr(style: &mut Style, params: &str) {
    let codes: Vec<u16> = params.split(';').map(|p| p.parse().unwrap_or(0)).collect();
    let mut i = 0;
    while i < codes.len() {
        match codes[i] {
            0 => *style = Style::default(),
            1 => style.bold = true,
            22 => style.bold = false,
            c @ 30..=37 => style.fg = (c - 30 + 1) as u8,
            c @ 90..=97 => style.fg = (c - 90 + 9) as u8,
            39 => style.fg = 0,
            // 256-colour and true-colour: skip their arguments.
            38 | 48 => i += if codes.get(i + 1) == Some(&5) { 2 } else { 4 },
            _ => {}
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansi_codes_become_styles() {
        let (text, styles) =
            strip_ansi("\u{1b}[31mERROR\u{1b}[0m done \u{1b}[1;92mok\u{1b}[m\u{1b}]0;title\u{7}");
        assert_eq!(text, "ERROR done ok");
        assert_eq!(
            styles,
            [
                (0, Style { fg: 2, bold: false }),
                (5, Style::default()),
                (11, Style { fg: 11, bold: true }),
                (13, Style::default())
            ]
        );
        assert_eq!(strip_ansi("\u{1b}[2K\u{1b}[1Aplain").0, "plain");
        assert!(strip_ansi("\u{1b}[2Kplain").1.is_empty());
        assert_eq!(Style { fg: 2, bold: true }.class(), "ansi-fg1 ansi-bold");
    }

    #[test]
    fn the_buffer_is_bounded_and_searchable() {
        let mut b = LogBuffer::default();
        let p = b.pod_index("web-1");
        b.search("ERROR");
        for i in 0..MAX_LINES + 10 {
            let text = if i % 1000 == 0 { format!("{i} error here") } else { format!("{i} fine") };
            b.push_log(p, &format!("2026-11-29T10:00:00.5Z {text}"), true);
        }
        assert_eq!(b.lines.len(), MAX_LINES);
        assert_eq!(b.dropped, 10);
        assert_eq!(b.lines[0].text.as_ref(), "10 fine");
        assert_eq!(b.lines[0].timestamp.as_deref(), Some("2026-11-29T10:00:00.5Z"));
        // Line 0's match was dropped with it.
        assert_eq!(b.match_count(), 100);
        assert_eq!(b.match_rows().next(), Some(990));
        b.search("");
        assert_eq!(b.match_count(), 0);
        assert_eq!(match_ranges("Error and ERROR", "error"), [(0, 5), (10, 15)]);
    }

    #[test]
    fn timestamps_sort_as_time() {
        assert!(timestamp_key("2026-11-29T10:00:00Z") < timestamp_key("2026-11-29T10:00:00.1Z"));
        assert!(timestamp_key("2026-11-29T10:00:00.5Z") > timestamp_key("2026-11-29T10:00:00.123Z"));
        assert_eq!(timestamp_key("2026-11-29T10:00:00.000000000Z"), timestamp_key("2026-11-29T10:00:00Z"));
    }
}
