//! Invariants over what clients observed (and, for white-box checks, the final logs). Knows nothing of the
//! engine or the model: the same checks can judge a history recorded from a real cluster.

pub mod lost_write;
