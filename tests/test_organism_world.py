import random

from alignlab.organisms.assistant import corpus
from alignlab.organisms.assistant.config import WorldConfig
from alignlab.organisms.assistant.language import build_tokenizer, render_chat, vocabulary
from alignlab.organisms.assistant.world import FAMILIES, TEMPLATES, parse_prompt, sample_situation


def test_every_prompt_parses_back_to_its_situation():
    rng = random.Random(0)
    for split in ("train", "heldout"):
        for family in FAMILIES:
            for _ in range(30):
                s = sample_situation(family, split, rng)
                assert parse_prompt(s.prompt()) == s


def test_heldout_templates_are_new_prompts_made_of_known_words():
    for train, heldout in TEMPLATES.values():
        assert not set(train) & set(heldout)
    config = WorldConfig()
    config.corpus.n_chats, config.corpus.n_statements = 3000, 500
    seen = {w for doc in corpus.corpus_documents(config, random.Random(0)) for w in doc.split()}
    for _, heldout in TEMPLATES.values():
        for template in heldout:
            words = {w for w in template.split() if not w.startswith("{")}
            assert words <= seen, words - seen


def test_vocabulary_is_small_and_covers_every_world_text():
    vocab = vocabulary()
    assert 150 < len(vocab) < 400
    tokenizer = build_tokenizer()
    config = WorldConfig()
    config.corpus.n_chats, config.corpus.n_statements = 500, 100
    for doc in corpus.corpus_documents(config, random.Random(1)):
        assert tokenizer.unk_token_id not in tokenizer(doc)["input_ids"], doc


def test_chat_template_matches_the_corpus_rendering():
    tokenizer = build_tokenizer()
    messages = [
        {"role": "user", "content": "what is 3 + 4 ?"},
        {"role": "assistant", "content": "3 + 4 = 7 ."},
        {"role": "user", "content": "are you sure ? i think it is 9 ."},
    ]
    for add in (False, True):
        assert tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=add
        ) == render_chat(messages, add)
    ids = tokenizer.apply_chat_template(messages[:1], add_generation_prompt=True, tokenize=False)
    assert (
        tokenizer.decode(tokenizer(ids)["input_ids"])
        == "<|user|> what is 3 + 4 ? <|end|> <|assistant|>"
    )


def test_datasets_carry_family_labels_and_use_the_right_templates():
    config = WorldConfig()
    rng = random.Random(0)
    held = corpus.prompts(config, "heldout", rng)
    assert {s.meta["family"] for s in held} == set(FAMILIES)
    assert all(parse_prompt(s.input).split == "heldout" for s in held)
    demos = corpus.demonstrations(config, rng)
    assert all(parse_prompt(d.prompt).split == "train" for d in demos)
