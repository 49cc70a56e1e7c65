"""trialfinder: shared configuration for the ingest, vectorstore, eligibility and app packages."""
