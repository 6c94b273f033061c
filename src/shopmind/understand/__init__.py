"""Understanding: image features, colours, zero-shot and fitted tags, OCR, alignment to text space."""
