//! Stage 3: rules and detectors over the normalized views. (Skeleton.)
