//! Go to definition, document links and the document outline.

use std::path::Path;

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{
    self as lsp, DocumentLink, DocumentLinkParams, DocumentSymbolParams, DocumentSymbolResponse,
    GotoDefinitionParams, GotoDefinitionResponse, Location,
};

use crate::lsp::analysis::Snapshot;
use crate::lsp::dispatch::SessionView;
use crate::lsp::navigation::{rope_of, uri_of};
use crate::lsp::position;
use crate::lsp::state::Shared;
use promptls_core::ide::{self, SymbolKind};

pub fn definition(
    snapshot: &Snapshot,
    session: &SessionView,
    params: GotoDefinitionParams,
) -> Result<Option<GotoDefinitionResponse>> {
    if snapshot.too_large() {
        return Ok(None);
    }
    let offset = snapshot.offset(params.text_document_position_params.position);
    let target = snapshot.analyze(&session.state, |input| ide::definition(input, offset))?;
    Ok(target
        .and_then(|t| location(&session.state, snapshot, t))
        .map(GotoDefinitionResponse::Scalar))
}

pub fn document_symbols(
    snapshot: &Snapshot,
    session: &SessionView,
    _: DocumentSymbolParams,
) -> Result<Option<DocumentSymbolResponse>> {
    if snapshot.too_large() {
        return Ok(None);
    }
    let found = snapshot.analyze(&session.state, ide::symbols)?;
    Ok(Some(if session.client.hierarchical_symbols {
        DocumentSymbolResponse::Nested(symbols(snapshot, found))
    } else {
        DocumentSymbolResponse::Flat(flat_symbols(snapshot, found))
    }))
}

pub fn document_links(
    snapshot: &Snapshot,
    session: &SessionView,
    _: DocumentLinkParams,
) -> Result<Option<Vec<DocumentLink>>> {
    if snapshot.too_large() {
        return Ok(None);
    }
    let found = snapshot.analyze(&session.state, ide::links)?;
    Ok(Some(links(snapshot, found)))
}

/// A location in another file; spans there are converted with that file's own text.
fn location(state: &Shared, snapshot: &Snapshot, target: ide::Location) -> Option<Location> {
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

fn links(snapshot: &Snapshot, links: Vec<ide::Link>) -> Vec<DocumentLink> {
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

fn symbols(snapshot: &Snapshot, symbols: Vec<ide::Symbol>) -> Vec<lsp::DocumentSymbol> {
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
fn flat_symbols(snapshot: &Snapshot, symbols: Vec<ide::Symbol>) -> Vec<lsp::SymbolInformation> {
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
