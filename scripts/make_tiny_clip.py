"""Build and save tiny, randomly initialised CLIP / Chinese-CLIP checkpoints with their own tokenizers.

Why: the real checkpoints live on a model hub this machine cannot reach. A tiny random model saved
with `save_pretrained` exercises exactly the same loading and encoding code as
`openai/clip-vit-base-patch32` or `OFA-Sys/chinese-clip-vit-base-patch16`, in well under a second.
The tokenizer files are written here from a small vocabulary, since none can be downloaded.

    python scripts/make_tiny_clip.py OUT_DIR [--kind clip|chinese_clip] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

IMAGE_SIZE = 32
PATCH = 8
HIDDEN = 32
PROJECTION = 16
MAX_TOKENS = 16
# A few whole-word merges so the BPE does real merging on product words.
_WORDS = ("red", "blue", "shirt", "dress", "shoe", "bag")
_ZH_CHARS = "红蓝白黑色衬衫连衣裙鞋包女男款夏季新纯棉"


def _byte_alphabet() -> list[str]:
    """The GPT-2/CLIP byte-level alphabet: printable bytes stand for themselves, the rest are shifted past 255."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars: dict[int, str] = {b: chr(b) for b in printable}
    shift = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + shift)
            shift += 1
    return [chars[b] for b in range(256)]


def write_clip_bpe(folder: Path) -> tuple[Path, Path]:
    """vocab.json + merges.txt for a byte-level BPE with end-of-word markers, as CLIP's tokenizer expects."""
    alphabet = _byte_alphabet()
    tokens: list[str] = [*alphabet, *(c + "</w>" for c in alphabet)]
    merges: list[str] = []
    for word in _WORDS:
        left = word[0]
        for i, ch in enumerate(word[1:], start=1):
            right = ch + "</w>" if i == len(word) - 1 else ch
            merges.append(f"{left} {right}")
            left = left + right
            if left not in tokens:
                tokens.append(left)
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {tok: i for i, tok in enumerate(dict.fromkeys(tokens))}
    folder.mkdir(parents=True, exist_ok=True)
    vocab_path, merges_path = folder / "vocab.json", folder / "merges.txt"
    vocab_path.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    merges_path.write_text("#version: 0.2\n" + "\n".join(dict.fromkeys(merges)) + "\n", encoding="utf-8")
    return vocab_path, merges_path


def bert_vocab() -> dict[str, int]:
    """A character-level Chinese WordPiece vocabulary (what Chinese-CLIP's BERT text tower uses)."""
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    ascii_tokens = [chr(c) for c in range(ord("!"), ord("~") + 1)]
    tokens = dict.fromkeys([*specials, *ascii_tokens, *_ZH_CHARS, *_WORDS])
    return {tok: i for i, tok in enumerate(tokens)}


def _tower(**extra) -> dict:
    """The layer sizes both towers of both tiny models share."""
    return dict(hidden_size=HIDDEN, intermediate_size=2 * HIDDEN, num_hidden_layers=2, num_attention_heads=2, **extra)


def _save_random(out_dir: Path, seed: int, model_cls, config, tokenizer, processor_cls) -> Path:
    """Initialise `model_cls(config)` from `seed` and save it with its tokenizer and image processor."""
    import torch

    torch.manual_seed(seed)
    model = model_cls(config).eval()
    processor = processor_cls(size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    return out_dir


def make_tiny_clip(out_dir: Path, seed: int = 0) -> Path:
    """Save a random `CLIPModel` + `CLIPTokenizer` + `CLIPImageProcessor` to `out_dir`."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPTokenizer

    out_dir = Path(out_dir)
    with tempfile.TemporaryDirectory() as tmp:  # source files only; the saved tokenizer.json carries them
        vocab_path, merges_path = write_clip_bpe(Path(tmp))
        vocab = json.loads(vocab_path.read_text(encoding="utf-8"))
        merges = [tuple(line.split()) for line in merges_path.read_text(encoding="utf-8").splitlines()[1:] if line]
    tokenizer = CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=MAX_TOKENS)
    config = CLIPConfig(
        text_config=_tower(
            vocab_size=len(vocab),
            max_position_embeddings=MAX_TOKENS,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        ),
        vision_config=_tower(image_size=IMAGE_SIZE, patch_size=PATCH),
        projection_dim=PROJECTION,
    )
    return _save_random(out_dir, seed, CLIPModel, config, tokenizer, CLIPImageProcessor)


def make_tiny_chinese_clip(out_dir: Path, seed: int = 0) -> Path:
    """Save a random `ChineseCLIPModel` + `BertTokenizer` + `ChineseCLIPImageProcessor` to `out_dir`."""
    from transformers import BertTokenizer, ChineseCLIPConfig, ChineseCLIPImageProcessor, ChineseCLIPModel

    out_dir = Path(out_dir)
    tokenizer = BertTokenizer(vocab=bert_vocab(), model_max_length=MAX_TOKENS, tokenize_chinese_chars=True)
    config = ChineseCLIPConfig(
        text_config=_tower(vocab_size=len(tokenizer), max_position_embeddings=MAX_TOKENS, pad_token_id=tokenizer.pad_token_id),
        vision_config=_tower(image_size=IMAGE_SIZE, patch_size=PATCH, projection_dim=PROJECTION),
        projection_dim=PROJECTION,
    )
    return _save_random(out_dir, seed, ChineseCLIPModel, config, tokenizer, ChineseCLIPImageProcessor)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--kind", choices=("clip", "chinese_clip"), default="clip")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    build = make_tiny_clip if args.kind == "clip" else make_tiny_chinese_clip
    print(build(args.out_dir, seed=args.seed))


if __name__ == "__main__":
    main()
