"""The marketers' and operator's command-line interface (`admin-cli`)."""
