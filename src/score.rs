//! Stage 4: hits to an anomaly score and an action. (Skeleton.)
