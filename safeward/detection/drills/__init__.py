"""Attack drills: `safeward drill run SCENARIO` replays an attack against the
running system with drill accounts (`drill.` usernames) and decoy patients
(canaries labelled `drill:...`), and reports whether detection caught it,
by which rules and how fast. See docs/drills.md."""
