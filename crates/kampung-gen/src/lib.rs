//! Synthetic population (being written).
