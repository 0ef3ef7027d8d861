"""The running service: web app, storage, state store, LINE/MOF/Backme adapters, worker."""
