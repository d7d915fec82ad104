//! Go to definition, document links and the document outline.

use std::path::Path;

use ropey::Rope;
use tower_lsp_server::ls_types::{self as lsp, DocumentLink, Location, Uri};

use super::analysis::Snapshot;
use super::position;
use super::state::{lock, normalize, Shared};
use promptls_core::ide::{self, SymbolKind};

/// A `file:` URI's path (other schemes, e.g. `untitled:`, have none).
pub fn path_of(uri: &Uri) -> Option<std::path::PathBuf> {
    if !uri.scheme().as_str().eq_ignore_ascii_case("file") {
        return None;
    }
    uri.to_file_path().map(|p| normalize(&p))
}

pub fn uri_of(path: &Path) -> Option<Uri> {
    Uri::from_file_path(normalize(path))
}

/// A location in another file; spans there are converted with that file's own text.
pub fn location(state: &Shared, snapshot: &Snapshot, target: ide::Location) -> Option<Location> {
    let uri = uri_of(&target.path)?;
    let range = match target.span {
        None => lsp::Range::default(),
        Some(span)
            if target.path.as_path() == snapshot.path.as_deref().unwrap_or(Path::new("")) =>
        {
            snapshot.range(span)
        }
        Some(span) => {
            let rope = rope_of(state, &target.path)?;
            position::to_range(&rope, span, snapshot.encoding)
        }
    };
    Some(Location { uri, range })
}

/// The text of `path` as the editor sees it (open buffer first).
pub fn rope_of(state: &Shared, path: &Path) -> Option<Rope> {
    let open = lock(state).doc_by_path(path).map(|(_, d)| d.rope.clone());
    open.or_else(|| {
        std::fs::read_to_string(path)
            .ok()
            .map(|t| Rope::from_str(&t))
    })
}

pub fn links(snapshot: &Snapshot, links: Vec<ide::Link>) -> Vec<DocumentLink> {
    links
        .into_iter()
        .filter_map(|link| {
            Some(DocumentLink {
                range: snapshot.range(link.span),
                target: Some(uri_of(&link.target)?),
                tooltip: Some(link.target.display().to_string()),
                data: None,
            })
        })
        .collect()
}

pub fn symbols(snapshot: &Snapshot, symbols: Vec<ide::Symbol>) -> Vec<lsp::DocumentSymbol> {
    symbols.into_iter().map(|s| symbol(snapshot, s)).collect()
}

#[allow(deprecated)] // `deprecated` is a required field of the struct, though deprecated.
fn symbol(snapshot: &Snapshot, s: ide::Symbol) -> lsp::DocumentSymbol {
    let range = snapshot.range(s.span);
    let mut selection_range = snapshot.range(s.selection);
    // The protocol requires the selection inside the range.
    if selection_range.start < range.start || selection_range.end > range.end {
        selection_range = range;
    }
    lsp::DocumentSymbol {
        name: if s.name.is_empty() {
            " ".into()
        } else {
            s.name
        },
        detail: s.detail,
        kind: match s.kind {
            SymbolKind::Frontmatter => lsp::SymbolKind::NAMESPACE,
            SymbolKind::Key => lsp::SymbolKind::PROPERTY,
            SymbolKind::Role => lsp::SymbolKind::EVENT,
            SymbolKind::Demos => lsp::SymbolKind::ARRAY,
            SymbolKind::Partial => lsp::SymbolKind::MODULE,
        },
        tags: None,
        deprecated: None,
        range,
        selection_range,
        children: (!s.children.is_empty()).then(|| {
            s.children
                .into_iter()
                .map(|c| symbol(snapshot, c))
                .collect()
        }),
    }
}

/// The outline flattened for clients without hierarchical symbols.
#[allow(deprecated)]
pub fn flat_symbols(snapshot: &Snapshot, symbols: Vec<ide::Symbol>) -> Vec<lsp::SymbolInformation> {
    let mut out = Vec::new();
    let mut stack: Vec<(ide::Symbol, Option<String>)> =
        symbols.into_iter().rev().map(|s| (s, None)).collect();
    while let Some((s, container)) = stack.pop() {
        let converted = symbol(
            snapshot,
            ide::Symbol {
                children: Vec::new(),
                ..s.clone()
            },
        );
        out.push(lsp::SymbolInformation {
            name: converted.name.clone(),
            kind: converted.kind,
            tags: None,
            deprecated: None,
            location: Location {
                uri: snapshot.uri.clone(),
                range: converted.range,
            },
            container_name: container,
        });
        for child in s.children.into_iter().rev() {
            stack.push((child, Some(converted.name.clone())));
        }
    }
    out
}
