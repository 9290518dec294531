//! Tests of the line protocols.
