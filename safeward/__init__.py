"""SafeWard: a hospital management information system that is secure by construction."""
