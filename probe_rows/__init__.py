"""The probe_rows code location."""
