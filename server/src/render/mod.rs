//! Dotprompt rendering.
