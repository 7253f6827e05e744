"""camvault key custodian (escrow service): releases escrow shares only for signed alarms or
customer consents, after logging each release in its own transparency log."""
