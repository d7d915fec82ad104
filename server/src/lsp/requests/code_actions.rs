//! textDocument/codeAction: the core's quick fixes as workspace edits.

use std::collections::HashMap;

use std::sync::Arc;

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{
    self as lsp, CodeAction, CodeActionKind, CodeActionOrCommand, CodeActionParams,
    CodeActionResponse, CreateFile, CreateFileOptions, DocumentChangeOperation, DocumentChanges,
    OneOf, OptionalVersionedTextDocumentIdentifier, ResourceOp, TextDocumentEdit, TextEdit,
    WorkspaceEdit,
};

use crate::lsp::analysis::Snapshot;
use crate::lsp::config::Config;
use crate::lsp::diagnostics;
use crate::lsp::dispatch::SessionView;
use crate::lsp::navigation::{rope_of, uri_of};
use crate::lsp::optimization;
use crate::lsp::position;
use crate::lsp::state::Shared;
use promptls_core::check;
use promptls_core::ide::{self, FileChange};

/// The quick fixes of the diagnostics in the range, and the optimizers on a prompt with a
/// dataset.
pub fn handle(
    snapshot: &Snapshot,
    session: &SessionView,
    params: CodeActionParams,
) -> Result<Option<CodeActionResponse>> {
    if snapshot.too_large() {
        return Ok(None);
    }
    let range = snapshot.span(params.range);
    let config = &session.config;
    let (actions, all) = snapshot.analyze(&session.state, |input| {
        // The finished check of this version if there is one, else check now.
        let all = match &snapshot.diagnostics {
            Some(d) => d.clone(),
            None => Arc::new(check::check_parsed(input)),
        };
        let kept: Vec<check::Diagnostic> = all
            .iter()
            .filter(|d| diagnostics::keep(d, &snapshot.text, config))
            .cloned()
            .collect();
        (ide::code_actions(input, &kept, range), kept)
    })?;
    let mut out = to_lsp(
        &session.state,
        snapshot,
        actions,
        &all,
        config,
        session.client.create_files,
    );
    out.extend(optimization::actions(snapshot));
    Ok(Some(out))
}

pub fn to_lsp(
    state: &Shared,
    snapshot: &Snapshot,
    actions: Vec<ide::Action>,
    all_diagnostics: &[check::Diagnostic],
    config: &Config,
    create_files: bool,
) -> Vec<CodeActionOrCommand> {
    actions
        .into_iter()
        .filter(|a| {
            create_files
                || !a
                    .changes
                    .iter()
                    .any(|c| matches!(c, FileChange::Create { .. }))
        })
        .filter_map(|action| {
            let fixed: Vec<lsp::Diagnostic> = all_diagnostics
                .iter()
                .filter(|d| d.code == action.code && d.span == action.diagnostic_span)
                .map(|d| diagnostics::one_to_lsp(d, &snapshot.rope, snapshot.encoding, config))
                .collect();
            Some(CodeActionOrCommand::CodeAction(CodeAction {
                title: action.title,
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(fixed),
                edit: Some(workspace_edit(state, snapshot, action.changes)?),
                is_preferred: Some(action.preferred),
                ..Default::default()
            }))
        })
        .collect()
}

fn workspace_edit(
    state: &Shared,
    snapshot: &Snapshot,
    changes: Vec<FileChange>,
) -> Option<WorkspaceEdit> {
    let creates = changes
        .iter()
        .any(|c| matches!(c, FileChange::Create { .. }));
    let mut edits: Vec<(lsp::Uri, TextEdit)> = Vec::new();
    let mut operations: Vec<DocumentChangeOperation> = Vec::new();
    for change in changes {
        match change {
            FileChange::Edit {
                path,
                span,
                new_text,
            } => {
                // The core names unsaved text with an empty path.
                let this_file =
                    path.as_os_str().is_empty() || snapshot.path.as_deref() == Some(path.as_path());
                let (uri, range) = if this_file {
                    (snapshot.uri.clone(), snapshot.range(span))
                } else {
                    let rope = rope_of(state, &path)?;
                    (
                        uri_of(&path)?,
                        position::to_range(&rope, span, snapshot.encoding),
                    )
                };
                edits.push((uri, TextEdit { range, new_text }));
            }
            FileChange::Create { path, contents } => {
                let uri = uri_of(&path)?;
                operations.push(DocumentChangeOperation::Op(ResourceOp::Create(
                    CreateFile {
                        uri: uri.clone(),
                        options: Some(CreateFileOptions {
                            overwrite: Some(false),
                            ignore_if_exists: Some(true),
                        }),
                        annotation_id: None,
                    },
                )));
                operations.push(DocumentChangeOperation::Edit(TextDocumentEdit {
                    text_document: OptionalVersionedTextDocumentIdentifier { uri, version: None },
                    edits: vec![OneOf::Left(TextEdit {
                        range: lsp::Range::default(),
                        new_text: contents,
                    })],
                }));
            }
        }
    }
    if !creates {
        let mut map: HashMap<lsp::Uri, Vec<TextEdit>> = HashMap::new();
        for (uri, edit) in edits {
            map.entry(uri).or_default().push(edit);
        }
        return Some(WorkspaceEdit {
            changes: Some(map),
            ..Default::default()
        });
    }
    for (uri, edit) in edits {
        let version = if uri == snapshot.uri {
            snapshot.version
        } else {
            None
        };
        operations.push(DocumentChangeOperation::Edit(TextDocumentEdit {
            text_document: OptionalVersionedTextDocumentIdentifier { uri, version },
            edits: vec![OneOf::Left(edit)],
        }));
    }
    Some(WorkspaceEdit {
        document_changes: Some(DocumentChanges::Operations(operations)),
        ..Default::default()
    })
}
