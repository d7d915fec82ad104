//! TODO(skeleton): tree-sitter-prompt bindings.
