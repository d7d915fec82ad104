//! Tier-1 checks.
