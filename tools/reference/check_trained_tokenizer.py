#!/usr/bin/env python3
"""Checks a tokenizer.json written by `zaya tokenizer train` against the Python `tokenizers` library.

  python3 tools/reference/check_trained_tokenizer.py TOKENIZER.json CORPUS.jsonl IDS_FILE

CORPUS.jsonl holds one {"text": ...} document per line (blank lines skipped). IDS_FILE holds, for
each document in the same order, one JSON object per line written by zaya:
  {"ids": [...], "ids_special": [...]}
with zaya's encode(text, add_special_tokens=false) and encode(text, true). The library must load
the file, produce exactly these ids (encode(text, add_special_tokens=False / True)) and decode the
ids back to the text. Exit status: 0 all equal, 1 first mismatch (printed), 2 usage error or the
`tokenizers` module is missing (pip install tokenizers). Used by tests/test_tokenizer_train.cpp.
"""
import json
import sys


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        from tokenizers import Tokenizer
    except ImportError as e:
        print(f"error: the Python `tokenizers` module is missing ({e}): pip install tokenizers", file=sys.stderr)
        return 2
    tok_path, corpus_path, ids_path = sys.argv[1:]
    tok = Tokenizer.from_file(tok_path)
    with open(corpus_path, encoding="utf-8") as f:
        docs = [json.loads(line)["text"] for line in f if line.strip()]
    with open(ids_path, encoding="utf-8") as f:
        expected = [json.loads(line) for line in f if line.strip()]
    if len(docs) != len(expected):
        print(f"mismatch: {len(docs)} documents in {corpus_path} but {len(expected)} lines in {ids_path}")
        return 1
    plain = tok.encode_batch(docs, add_special_tokens=False)
    special = tok.encode_batch(docs, add_special_tokens=True)
    tokens = 0
    for n, (text, exp, p, s) in enumerate(zip(docs, expected, plain, special)):
        for name, got, want in (("ids", p.ids, exp["ids"]), ("ids_special", s.ids, exp["ids_special"])):
            if got != want:
                i = first_difference(got, want)
                print(f"mismatch in document {n} ({name}), first at token {i}:\n"
                      f"  text      {text[:200]!r}\n"
                      f"  tokenizers {got[max(0, i - 3):i + 5]} (len {len(got)})\n"
                      f"  zaya       {want[max(0, i - 3):i + 5]} (len {len(want)})")
                return 1
        decoded = tok.decode(p.ids, skip_special_tokens=False)
        if decoded != text:
            i = first_difference(decoded, text)
            print(f"decode mismatch in document {n} at character {i}: "
                  f"{decoded[max(0, i - 20):i + 20]!r} != {text[max(0, i - 20):i + 20]!r}")
            return 1
        tokens += len(p.ids)
    print(f"ok: {len(docs)} documents, {tokens} tokens identical (vocab {tok.get_vocab_size()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
