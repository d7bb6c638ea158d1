//! Unit tests of the lifecycle.
