"""Invoice-registration campaigns as plain data: settings and their validation, the derived
lifecycle, the rules engine that judges a verified invoice, and who may change what."""
