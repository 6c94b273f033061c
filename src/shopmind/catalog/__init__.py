"""Store layer: the embedded SQLite database (products, images, tags, content, events)."""
