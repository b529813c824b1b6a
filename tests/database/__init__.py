"""The database layer: migrations, the pool, lost connections and planner statistics."""
