//! The `{{!-- promptls:demos --}}` ... `{{!-- /promptls:demos --}}` region, where
//! optimizers write few-shot demos as role turns. Found in the Handlebars tree: the two
//! comments must be siblings (in the same block), and `{{role "..."}}` mustaches between
//! them start the turns.

use super::handlebars::{NodeKind, NodeRef, Nodes, Template};
use super::Span;

pub const START: &str = "promptls:demos";
pub const END: &str = "/promptls:demos";

/// One turn inside a demos region: a role marker and the text after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoTurn {
    pub role: String,
    pub role_span: Span,
    /// From the end of the role marker to the next marker or the region's end.
    pub content: Span,
    /// Whether the content holds template constructs (mustaches, blocks), so its text
    /// is not the literal text sent.
    pub templated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemosRegion {
    pub span: Span,
    pub start_marker: Span,
    /// `None` when the closing comment is missing.
    pub end_marker: Option<Span>,
    pub turns: Vec<DemoTurn>,
}

/// Every demos region in file order, and every closing marker without an opening one.
pub fn demos(template: &Template) -> (Vec<DemosRegion>, Vec<Span>) {
    let mut regions = Vec::new();
    let mut strays = Vec::new();
    scan(template.nodes(), &mut regions, &mut strays);
    regions.sort_by_key(|r| r.span);
    strays.sort();
    (regions, strays)
}

fn marker(node: NodeRef) -> Option<(&'static str, Span)> {
    match node.kind() {
        NodeKind::Comment(text) => match text.trim() {
            START => Some((START, node.span())),
            END => Some((END, node.span())),
            _ => None,
        },
        _ => None,
    }
}

fn role(node: NodeRef) -> Option<(String, Span)> {
    let NodeKind::Mustache(call) = node.kind() else {
        return None;
    };
    if call.simple_name() != Some("role") {
        return None;
    }
    let role = call
        .params()
        .first()
        .and_then(|e| e.as_string())
        .map_or_else(String::new, str::to_string);
    Some((role, node.span()))
}

/// `scan` in the program and inverse of `node`, if it is a block.
fn scan_inside(node: NodeRef, regions: &mut Vec<DemosRegion>, strays: &mut Vec<Span>) {
    if let Some(b) = node.as_block() {
        scan(b.program(), regions, strays);
        if let Some(inverse) = b.inverse() {
            scan(inverse, regions, strays);
        }
    }
}

fn scan(nodes: Nodes, regions: &mut Vec<DemosRegion>, strays: &mut Vec<Span>) {
    // Most lists have no marker: walk them without collecting their nodes.
    if !nodes.iter().any(|n| marker(n).is_some()) {
        nodes.iter().for_each(|n| scan_inside(n, regions, strays));
        return;
    }
    let nodes: Vec<NodeRef> = nodes.iter().collect();
    let mut i = 0;
    while i < nodes.len() {
        match marker(nodes[i]) {
            Some((START, start)) => {
                let end = nodes[i + 1..]
                    .iter()
                    .position(|&n| matches!(marker(n), Some((END, _)) | Some((START, _))));
                let stop = end.map_or(nodes.len(), |e| i + 1 + e);
                let end_marker = end
                    .and_then(|e| marker(nodes[i + 1 + e]))
                    .filter(|(k, _)| *k == END)
                    .map(|(_, s)| s);
                let inner = &nodes[i + 1..stop];
                let region_end = end_marker.map_or_else(
                    || inner.last().map_or(start.end, |n| n.span().end),
                    |s| s.end,
                );
                let content_end = end_marker.map_or(region_end, |s| s.start);
                regions.push(DemosRegion {
                    span: Span::new(start.start, region_end),
                    start_marker: start,
                    end_marker,
                    turns: turns(inner, content_end),
                });
                i = if end_marker.is_some() { stop + 1 } else { stop };
            }
            Some((_, end)) => {
                strays.push(end);
                i += 1;
            }
            None => {
                scan_inside(nodes[i], regions, strays);
                i += 1;
            }
        }
    }
}

fn turns(inner: &[NodeRef], end: usize) -> Vec<DemoTurn> {
    let markers: Vec<(usize, String, Span)> = inner
        .iter()
        .enumerate()
        .filter_map(|(i, &n)| role(n).map(|(r, s)| (i, r, s)))
        .collect();
    markers
        .iter()
        .enumerate()
        .map(|(k, (i, role, span))| {
            let next = markers.get(k + 1).map_or(inner.len(), |(j, _, _)| *j);
            let content_end = markers.get(k + 1).map_or(end, |(_, _, s)| s.start);
            let templated = inner[i + 1..next]
                .iter()
                .any(|n| !matches!(n.kind(), NodeKind::Text(_) | NodeKind::Comment(_)));
            DemoTurn {
                role: role.clone(),
                role_span: *span,
                content: Span::new(span.end, content_end.max(span.end)),
                templated,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::handlebars::parse_template;

    fn regions(src: &str) -> (Vec<DemosRegion>, Vec<Span>) {
        demos(&parse_template(src, 0).0)
    }

    #[test]
    fn finds_demo_turns() {
        let src = "{{role \"system\"}}\nX\n{{!-- promptls:demos --}}\n{{role \"user\"}}\nI loved it.\n{{role \"model\"}}\npositive\n{{!-- /promptls:demos --}}\n{{role \"user\"}}\n{{text}}";
        let (regions, strays) = regions(src);
        assert!(strays.is_empty());
        assert_eq!(regions.len(), 1);
        let r = &regions[0];
        assert!(r.end_marker.is_some());
        let turns: Vec<(&str, &str, bool)> = r
            .turns
            .iter()
            .map(|t| {
                (
                    t.role.as_str(),
                    &src[t.content.start..t.content.end],
                    t.templated,
                )
            })
            .collect();
        assert_eq!(
            turns,
            [
                ("user", "\nI loved it.\n", false),
                ("model", "\npositive\n", false)
            ]
        );
    }

    #[test]
    fn unbalanced_and_nested_regions() {
        let (r, strays) = regions("{{! promptls:demos }}{{role \"user\"}}{{q}}");
        assert_eq!(r.len(), 1);
        assert!(r[0].end_marker.is_none());
        assert!(r[0].turns[0].templated);
        assert!(strays.is_empty());
        let (r, strays) = regions("x {{!-- /promptls:demos --}}");
        assert!(r.is_empty());
        assert_eq!(strays.len(), 1);
        let (r, _) = regions("{{#if d}}{{!-- promptls:demos --}}{{role \"user\"}}a{{role \"model\"}}b{{!-- /promptls:demos --}}{{/if}}");
        assert_eq!(r[0].turns.len(), 2);
    }
}
