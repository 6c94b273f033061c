"""Search: lexical (BM25 + jieba), dense text and image vectors, fused with explanations."""
