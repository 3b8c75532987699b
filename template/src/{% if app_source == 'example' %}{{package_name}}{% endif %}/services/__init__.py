"""Business rules. Routes call these; these call the database and the cache."""
