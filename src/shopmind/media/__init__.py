"""Media: privacy redaction, NSFW screening, ad posters, narration (TTS) and product videos."""
