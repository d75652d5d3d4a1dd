//! ptdiff
