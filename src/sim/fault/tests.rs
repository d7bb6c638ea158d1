//! Unit tests of each fault kind's exact effect, stepping a simulation.
