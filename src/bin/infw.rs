//! `infw`: rule tuning from the command line. (Skeleton.)
fn main() {}
