"""The examiner's collector: MSAL auth, one HTTP client, sources, offline importers, resume."""
