"""DDL loading, validation and defaults (see pymco.ddl.model for the schema)."""
