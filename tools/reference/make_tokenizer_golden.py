#!/usr/bin/env python3
"""Golden data for tests/test_tokenizer.cpp: a varied text corpus and the ids the Python
`tokenizers` library produces for it.

Writes into tests/data/tokenizer/:
  corpus.jsonl              one {"text": ...} document per line (about 1.3 MB of text)
  bytelevel/tokenizer.json  a small GPT-2 style byte-level BPE trained here on part of the corpus
                            (4000 tokens, special and non-special added tokens with
                            lstrip/rstrip/single_word/normalized flags)
  bytelevel.ids             ids of every document, Tokenizer.encode(text).ids
  bytelevel.decode          64-bit FNV-1a hashes of Tokenizer.decode(ids, skip_special_tokens=False)
                            and of decode(ids, skip_special_tokens=True), per document
  gemma3.ids, gemma3.decode the same for the Gemma 3 tokenizer (../shared/data/gemma3/tokenizer.json)
  variants.json             variants of the byte-level tokenizer: top-level sections of
                            tokenizer.json replaced (pre_tokenizer, normalizer, post_processor, model
                            merges in the legacy "a b" form...), each tested on every `stride`-th
                            document
  variant_<name>.ids        their ids

.ids format: b"ZAYAIDS1", then LEB128 varints: number of documents, and per document the number
of ids followed by the ids. .decode format: b"ZAYADEC1", then per document two little-endian
uint64 hashes (skip_special_tokens False, True).

The corpus is built deterministically from text found on this machine (licenses, Python
stdlib docstrings and sources, C headers, gettext translations in many languages) plus
generated text (scripts, emoji, whitespace runs, special-token texts, random code points).
On another machine the sources differ, so regenerating gives a different (but self-consistent)
corpus. Run from anywhere:

  python3 tools/reference/make_tokenizer_golden.py [--gemma PATH] [--target-bytes N]
"""
import argparse
import ast
import glob
import gettext
import json
import os
import random
import sys
import unicodedata

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "data", "tokenizer")
SEED = 20240611

SPECIAL_TEXTS = [
    "<bos>", "<eos>", "<pad>", "<unk>", "<mask>", "<start_of_turn>", "<end_of_turn>",
    "<|endoftext|>", "<start_of_image>", "<end_of_image>", "<image_soft_token>", "<unused0>",
    "<unused17>", "<unused6241>", "<table>", "</td>", "<h1>", "<code>", "[multimodal]",
    "[WORD]", "<rs>", "hello world", "ünï", "Ġworld", "▁", "▁▁", "▁▁▁▁", "\t\t", "\n\n\n",
]
PARTIAL_TEXTS = ["<bo", "<bos", "bos>", "<eo", "<start_of_turn", "start_of_turn>", "<|endoftext",
                 "<|endoftext|", "<unused", "<unused99999>", "<", ">", "<<bos>>", "<b<bos>os>",
                 "[WORD", "<r", "<rs", "hello  world", "hello", "Hello world", "<ma", "<mask"]


# ----------------------------------------------------------------------------- sources
def chunks_of_lines(text, rng, lo, hi):
    """Splits text into pieces of lo..hi characters at line boundaries."""
    lines = text.splitlines(keepends=True)
    out, cur, want = [], [], rng.randint(lo, hi)
    size = 0
    for line in lines:
        cur.append(line)
        size += len(line)
        if size >= want:
            out.append("".join(cur))
            cur, size, want = [], 0, rng.randint(lo, hi)
    if cur:
        out.append("".join(cur))
    return out


def read_text(path):
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError):
        return ""


def take(docs, budget):
    out, size = [], 0
    for d in docs:
        if size >= budget:
            break
        out.append(d)
        size += len(d.encode("utf-8"))
    return out


def prose_docs(rng, budget):
    texts = []
    for path in sorted(glob.glob("/usr/share/common-licenses/*")):
        if os.path.isfile(path):
            texts.append(read_text(path))
    texts.append(read_text(os.path.join(sys.prefix, "lib", "python%d.%d" % sys.version_info[:2], "LICENSE.txt")))
    # Docstrings of the standard library.
    stdlib = os.path.dirname(os.__file__)
    files = sorted(glob.glob(os.path.join(stdlib, "*.py")))
    rng.shuffle(files)
    for path in files[:120]:
        try:
            tree = ast.parse(read_text(path))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node, clean=False)
                if doc and len(doc) > 80:
                    texts.append(doc)
    docs = []
    for t in texts:
        if t:
            docs.extend(chunks_of_lines(t, rng, 100, 4000))
    rng.shuffle(docs)
    return take(docs, budget)


def code_docs(rng, budget):
    stdlib = os.path.dirname(os.__file__)
    py = sorted(glob.glob(os.path.join(stdlib, "*.py")) + glob.glob(os.path.join(stdlib, "*", "*.py")))
    hdr = sorted(glob.glob("/usr/include/*.h") + glob.glob("/usr/include/*/*.h"))
    rng.shuffle(py)
    rng.shuffle(hdr)
    docs = []
    for path in py[:60] + hdr[:60]:
        t = read_text(path)
        if t:
            pieces = chunks_of_lines(t, rng, 200, 6000)
            docs.extend(rng.sample(pieces, min(3, len(pieces))))
    rng.shuffle(docs)
    # A few with Windows line endings and tabs instead of spaces.
    for i in range(0, len(docs), 7):
        docs[i] = docs[i].replace("\n", "\r\n")
    for i in range(3, len(docs), 11):
        docs[i] = docs[i].replace("    ", "\t")
    return take(docs, budget)


def translation_docs(rng, budget):
    """Translated UI strings from gettext catalogs: real text in many scripts."""
    langs = ["ar", "he", "fa", "hi", "bn", "ta", "te", "mr", "gu", "pa", "ml", "kn", "th", "ka", "hy",
             "am", "km", "my", "ja", "zh_CN", "zh_TW", "ko", "ru", "uk", "bg", "sr", "el", "vi", "tr",
             "pl", "cs", "de", "fr", "es", "pt_BR", "fi", "hu", "ro", "eo", "ga", "is", "lt", "lv",
             "et", "az", "kk", "mn", "ne", "si", "ur", "ug", "dz", "ps", "ckb"]
    per_lang = max(1, budget // len(langs))
    docs = []
    for lang in langs:
        files = sorted(glob.glob(f"/usr/share/locale/{lang}/LC_MESSAGES/*.mo"))
        strings = []
        for path in files:
            try:
                with open(path, "rb") as fh:
                    cat = gettext.GNUTranslations(fh)._catalog
            except Exception:
                continue
            for k, v in cat.items():
                if isinstance(v, str) and v and k:
                    strings.append(v)
        strings = sorted(set(strings))
        rng.shuffle(strings)
        size = 0
        while strings and size < per_lang:
            n = rng.randint(1, 40)
            sep = rng.choice(["\n", " ", "\n\n", ". ", " | "])
            doc = sep.join(strings[:n])
            strings = strings[n:]
            docs.append(doc)
            size += len(doc.encode("utf-8"))
    rng.shuffle(docs)
    return take(docs, budget)


SCRIPT_RANGES = {
    "latin_ext": (0x00C0, 0x024F), "greek": (0x0391, 0x03C9), "cyrillic": (0x0410, 0x044F),
    "armenian": (0x0531, 0x0587), "hebrew": (0x05D0, 0x05EA), "arabic": (0x0620, 0x064A),
    "devanagari": (0x0904, 0x0939), "bengali": (0x0985, 0x09B9), "tamil": (0x0B85, 0x0BB9),
    "thai": (0x0E01, 0x0E30), "georgian": (0x10D0, 0x10FA), "hangul": (0xAC00, 0xD7A3),
    "hiragana": (0x3041, 0x3096), "katakana": (0x30A1, 0x30FA), "cjk": (0x4E00, 0x9FFF),
    "cjk_ext_b": (0x20000, 0x2A6DF), "ethiopic": (0x1200, 0x135A), "math": (0x2200, 0x22FF),
    "box": (0x2500, 0x257F), "fullwidth": (0xFF01, 0xFF5E), "cherokee": (0x13A0, 0x13F4),
    "runic": (0x16A0, 0x16EA), "gothic": (0x10330, 0x1034A), "math_alnum": (0x1D400, 0x1D6A5),
}
COMBINING = [0x0300, 0x0301, 0x0302, 0x0303, 0x0308, 0x030A, 0x0327, 0x0331, 0x0345, 0x093F,
             0x094D, 0x0E31, 0x0E48, 0x064B, 0x0650, 0x05B7, 0x20DD, 0x1AB0, 0xFE20]


def assigned(cp):
    return unicodedata.category(chr(cp)) not in ("Cn", "Cs")


def script_docs(rng, budget):
    docs, size = [], 0
    names = sorted(SCRIPT_RANGES)
    while size < budget:
        words = []
        for _ in range(rng.randint(3, 80)):
            lo, hi = SCRIPT_RANGES[rng.choice(names)]
            w = ""
            for _ in range(rng.randint(1, 9)):
                cp = rng.randint(lo, hi)
                if assigned(cp):
                    w += chr(cp)
                if rng.random() < 0.15:
                    w += chr(rng.choice(COMBINING))
            if rng.random() < 0.1:
                w = unicodedata.normalize(rng.choice(["NFD", "NFKC"]), w)
            if rng.random() < 0.2:
                w += rng.choice([",", ".", "。", "、", "؟", "।", "!", "?", "…", "»", "«", "—", "1234", "٣٤", "४२"])
            words.append(w)
        doc = rng.choice([" ", "", "\u3000", " ", "\u200b"]).join(words)
        docs.append(doc)
        size += len(doc.encode("utf-8"))
    return docs


def random_codepoint_docs(rng, budget):
    """Assigned code points from all planes: controls, private use, rare scripts, symbols."""
    docs, size = [], 0
    while size < budget:
        chars = []
        for _ in range(rng.randint(1, 200)):
            r = rng.random()
            if r < 0.3:
                cp = rng.randint(0, 0x2FF)
            elif r < 0.7:
                cp = rng.randint(0x300, 0xFFFF)
            elif r < 0.9:
                cp = rng.randint(0x10000, 0x3134F)
            elif r < 0.95:
                cp = rng.choice([0xE000, 0xF8FF, 0xF0000, 0x10FFFD, 0xFEFF, 0x200D, 0x200C, 0x2028,
                                 0x2029, 0x85, 0x1C, 0x1F, 0x7F, 0x0, 0xFFFD, 0xFFFC, 0x180E])
            else:
                cp = rng.randint(0xE0000, 0xE007F)
            if assigned(cp):
                chars.append(chr(cp))
        doc = "".join(chars)
        if doc:
            docs.append(doc)
            size += len(doc.encode("utf-8"))
    return docs


EMOJI = ["😀", "😂", "🥲", "❤️", "❤", "👍", "👍🏻", "👍🏽", "👍🏿", "🙏🏾", "👨‍👩‍👧‍👦", "👩‍💻", "🧑🏽‍🚀",
         "🏳️‍🌈", "🏴‍☠️", "🇯🇵", "🇺🇸", "🇪🇺", "1️⃣", "#️⃣", "©️", "™", "☺️", "✨", "🔥", "🦀", "🐍",
         "🫠", "🫶🏼", "👩🏾‍❤️‍💋‍👨🏻", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "🧬", "⚡", "⌚", "🀄", "🂡", "🎌", "🈁", "㊗️"]


def emoji_docs(rng, budget):
    docs, size = [], 0
    filler = ["great", "job", "ok", "lol", "I love it", "see you", "ありがとう", "спасибо", "", " "]
    while size < budget:
        parts = []
        for _ in range(rng.randint(1, 30)):
            if rng.random() < 0.6:
                parts.append("".join(rng.choice(EMOJI) for _ in range(rng.randint(1, 4))))
            else:
                parts.append(rng.choice(filler))
        doc = rng.choice([" ", "", "\n"]).join(parts)
        docs.append(doc)
        size += len(doc.encode("utf-8"))
    return docs


WS = [" ", "  ", "   ", "\t", "\n", "\r\n", "\r", "\u00a0", "\u3000", "\u2009", "\u200b", "\u2028",
      "\u0085", "\x0b", "\x0c", "\n\n", "\n\n\n\n", "\t\t\t", "        ", " \n ", "\u1680", "\u202f"]


def whitespace_docs(rng, budget):
    docs, size = [], 0
    words = ["a", "word", "x", "the", "Fin", "élan", "日本", "42", "!", "'s", "foo_bar", ""]
    while size < budget:
        parts = []
        for _ in range(rng.randint(1, 40)):
            parts.append("".join(rng.choice(WS) for _ in range(rng.randint(1, 5))))
            if rng.random() < 0.7:
                parts.append(rng.choice(words))
        doc = "".join(parts)
        docs.append(doc)
        size += len(doc.encode("utf-8"))
    # Pure whitespace documents, leading/trailing whitespace.
    docs += [" ", "  ", "\n", "\t", "\r\n", "\u00a0", " " * 40, "\n" * 35, "\t" * 33, " a", "a ",
             " \n", "\n ", "   leading", "trailing   ", "\u3000\u3000x"]
    return docs


def special_docs(rng, budget):
    docs, size = [], 0
    words = ["hello", "Hello", "world", "user", "model", "x", "é", "日本", "123", "'s", "_", "a_b"]
    seps = ["", "", " ", "  ", "\n", "\t", "\u00a0", " \n "]
    while size < budget:
        parts = []
        for _ in range(rng.randint(1, 25)):
            r = rng.random()
            if r < 0.45:
                parts.append(rng.choice(SPECIAL_TEXTS))
            elif r < 0.65:
                parts.append(rng.choice(PARTIAL_TEXTS))
            else:
                parts.append(rng.choice(words))
            parts.append(rng.choice(seps))
        doc = "".join(parts)
        docs.append(doc)
        size += len(doc.encode("utf-8"))
    turns = ["<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n4<end_of_turn>\n",
             "<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n",
             "<|endoftext|>Once upon a time<|endoftext|>", "<eos>", "<bos>", "<pad><pad><pad>",
             "a<mask>b", "a <mask> b", "a  <mask>  b", "<mask>", "  <mask>", "x[WORD]y", "x [WORD] y",
             "[WORD]", "é[WORD]", "[WORD]é", "[WORD]_", "_[WORD]", "1[WORD]", "-[WORD]-", "<rs>   x",
             "<rs>\n\ny", "<rs><rs>", "<rs> <mask>", "hello world", "hello worlds", "Xhello world",
             "ünï", "xünï", "ünï ünï", "ü ünï ü"]
    return docs + turns


def misc_docs(rng, budget):
    docs, size = [], 0
    pieces = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "' s", "''s", "'x",
              "don't", "I'm", "we'll", "they've", "you're", "it's", "12,345.67", "3.14159",
              "1e-9", "0x1F", "٣٤٥", "१२३", "½", "Ⅻ", "²", "$100", "100%", "#hashtag", "@user",
              "https://example.com/a?b=c&d=e", "foo@bar.baz", "C++", "a->b", "x == y", "i++",
              "--flag", "...", "!!!", "???", "«quote»", "„Zitat“", "“smart”", "—", "–", "•"]
    while size < budget:
        doc = rng.choice([" ", "", "  "]).join(rng.choice(pieces) for _ in range(rng.randint(1, 50)))
        docs.append(doc)
        size += len(doc.encode("utf-8"))
    return docs


def build_corpus(target):
    rng = random.Random(SEED)
    parts = [
        ("prose", prose_docs, 0.25), ("code", code_docs, 0.25), ("translations", translation_docs, 0.25),
        ("scripts", script_docs, 0.06), ("random_cp", random_codepoint_docs, 0.04),
        ("emoji", emoji_docs, 0.03), ("whitespace", whitespace_docs, 0.03),
        ("special", special_docs, 0.05), ("misc", misc_docs, 0.04),
    ]
    docs = []
    for name, fn, frac in parts:
        part = [d for d in fn(rng, int(target * frac)) if d]
        print(f"  {name}: {len(part)} docs, {sum(len(d.encode()) for d in part)} bytes")
        docs.extend(part)
    # Documents must survive JSON and be valid UTF-8 (no lone surrogates).
    for d in docs:
        d.encode("utf-8")
    return docs


# --------------------------------------------------------------------------- tokenizers
def train_bytelevel(docs, path):
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=4000, min_frequency=2, show_progress=False,
        special_tokens=["<|endoftext|>", "<bos>", "<eos>", "<pad>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(docs, trainer=trainer)
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, normalized=False, special=True)])
    tok.add_tokens([
        AddedToken("[WORD]", single_word=True, normalized=False),
        AddedToken("<rs>", rstrip=True, normalized=False),
        AddedToken("hello world", normalized=True),
        AddedToken("ünï", single_word=True, normalized=True),
        AddedToken("Ġworld", normalized=False),  # already in the model vocabulary
    ])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tok.save(path, pretty=False)
    return path


GPT2_REGEX = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"

# Patches of the byte-level tokenizer.json: each key replaces that top-level section;
# "legacy_merges": true rewrites model.merges as "a b" strings (done the same way in the C++ test).
VARIANTS = [
    {"name": "prefix_space_template", "stride": 12, "patch": {
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<bos>", "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}},
                                      {"SpecialToken": {"id": "<eos>", "type_id": 0}}],
                           "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {"<bos>": {"id": "<bos>", "ids": [1], "tokens": ["<bos>"]},
                                              "<eos>": {"id": "<eos>", "ids": [2], "tokens": ["<eos>"]}}}}},
    {"name": "no_regex_legacy_merges", "stride": 12, "legacy_merges": True, "patch": {
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
        "post_processor": None}},
    {"name": "split_sequence", "stride": 12, "patch": {
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Replace", "pattern": {"String": "\r\n"}, "content": "\n"},
            {"type": "Prepend", "prepend": "^"}]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"String": "\n"}, "behavior": "MergedWithNext", "invert": False},
            {"type": "Split", "pattern": {"String": "."}, "behavior": "Removed", "invert": False},
            {"type": "Split", "pattern": {"String": "e"}, "behavior": "Contiguous", "invert": True},
            {"type": "Split", "pattern": {"String": "  "}, "behavior": "MergedWithPrevious", "invert": False},
            {"type": "Split", "pattern": {"Regex": GPT2_REGEX}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "post_processor": {"type": "BertProcessing", "sep": ["<eos>", 2], "cls": ["<bos>", 1]}}},
]


def apply_variant(base_json, variant):
    j = json.loads(base_json)
    for k, v in variant["patch"].items():
        j[k] = v
    if variant.get("legacy_merges"):
        j["model"]["merges"] = [f"{a} {b}" for a, b in j["model"]["merges"]]
    return json.dumps(j, ensure_ascii=False)


def write_varint(out, v):
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return


def write_ids(path, all_ids):
    out = bytearray(b"ZAYAIDS1")
    write_varint(out, len(all_ids))
    for ids in all_ids:
        write_varint(out, len(ids))
        for i in ids:
            write_varint(out, i)
    with open(path, "wb") as fh:
        fh.write(out)
    print(f"  {os.path.relpath(path, ROOT)}: {sum(map(len, all_ids))} ids, {len(out)} bytes")


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def write_decode_hashes(path, tok, all_ids):
    out = bytearray(b"ZAYADEC1")
    plain = tok.decode_batch(all_ids, skip_special_tokens=False)
    skipped = tok.decode_batch(all_ids, skip_special_tokens=True)
    for a, b in zip(plain, skipped):
        out += fnv1a64(a.encode("utf-8")).to_bytes(8, "little")
        out += fnv1a64(b.encode("utf-8")).to_bytes(8, "little")
    with open(path, "wb") as fh:
        fh.write(out)
    print(f"  {os.path.relpath(path, ROOT)}: {len(all_ids)} documents")


def encode_all(tok, docs):
    return [e.ids for e in tok.encode_batch(docs)]  # add_special_tokens=True, like encode()


def main():
    global OUT
    ap = argparse.ArgumentParser()
    ap.add_argument("--gemma", default=os.path.join(ROOT, "..", "shared", "data", "gemma3", "tokenizer.json"))
    ap.add_argument("--target-bytes", type=int, default=1_300_000)
    ap.add_argument("--out", default=OUT, help="output folder (the C++ test reads $ZAYA_TOKENIZER_DATA if set)")
    args = ap.parse_args()
    OUT = args.out
    import tokenizers
    from tokenizers import Tokenizer

    print(f"tokenizers {tokenizers.__version__}; building corpus")
    docs = build_corpus(args.target_bytes)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "corpus.jsonl"), "w", encoding="utf-8", newline="\n") as fh:
        for d in docs:
            fh.write(json.dumps({"text": d}, ensure_ascii=False) + "\n")
    print(f"  corpus.jsonl: {len(docs)} documents, {sum(len(d.encode()) for d in docs)} bytes of text")

    rng = random.Random(SEED + 1)
    train = [d for d in docs if rng.random() < 0.5]
    bl_path = train_bytelevel(train, os.path.join(OUT, "bytelevel", "tokenizer.json"))
    bl = Tokenizer.from_file(bl_path)
    bl_ids = encode_all(bl, docs)
    write_ids(os.path.join(OUT, "bytelevel.ids"), bl_ids)
    write_decode_hashes(os.path.join(OUT, "bytelevel.decode"), bl, bl_ids)

    base = open(bl_path, encoding="utf-8").read()
    for v in VARIANTS:
        tok = Tokenizer.from_str(apply_variant(base, v))
        write_ids(os.path.join(OUT, f"variant_{v['name']}.ids"), encode_all(tok, docs[::v["stride"]]))
    with open(os.path.join(OUT, "variants.json"), "w", encoding="utf-8") as fh:
        json.dump(VARIANTS, fh, ensure_ascii=False, indent=1)

    if os.path.exists(args.gemma):
        gemma = Tokenizer.from_file(args.gemma)
        gemma_ids = encode_all(gemma, docs)
        write_ids(os.path.join(OUT, "gemma3.ids"), gemma_ids)
        write_decode_hashes(os.path.join(OUT, "gemma3.decode"), gemma, gemma_ids)
    else:
        print(f"  {args.gemma} not found: gemma3.ids not written", file=sys.stderr)


if __name__ == "__main__":
    main()
