"""Decision support over the vectorized simulation: batched evaluation of many points
(decisions and scenario values) as paths of one simulation, and the analyses built on it
(optimization, sweeps, sensitivity). No Textual or rich here: the CLI and the TUI drive it."""
