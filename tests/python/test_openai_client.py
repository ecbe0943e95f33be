"""The official `openai` Python client against a running `zaya serve` (issue 8's client acceptance).

Run by tests/python/run_server_tests.sh, which starts the server over the tiny model with an API key
and sets ZAYA_URL (http://host:port) and ZAYA_KEY. Plain unittest: no pytest needed.
"""
import os
import unittest

import openai

URL = os.environ["ZAYA_URL"]
KEY = os.environ["ZAYA_KEY"]


def client(key=KEY):
    return openai.OpenAI(base_url=URL + "/v1", api_key=key, max_retries=0, timeout=120)


class OpenAIClient(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = client()
        cls.model = cls.c.models.list().data[0].id

    def test_models_list(self):
        models = self.c.models.list().data
        self.assertEqual(len(models), 1)
        m = models[0]
        self.assertEqual(m.object, "model")
        self.assertTrue(m.id)
        self.assertIsInstance(m.created, int)
        self.assertTrue(m.owned_by)
        self.assertTrue(getattr(m, "root", None))

    def greedy(self, prompt, stream, max_tokens=24):
        kw = dict(model=self.model, prompt=prompt, max_tokens=max_tokens, temperature=0)
        if not stream:
            r = self.c.completions.create(**kw)
            self.assertEqual(len(r.choices), 1)
            return r.choices[0].text, r.choices[0].finish_reason
        text, finish = "", None
        for ch in self.c.completions.create(stream=True, **kw):
            for c in ch.choices:
                text += c.text
                finish = c.finish_reason or finish
        return text, finish

    def test_completions_text_and_ids_stream_and_not(self):
        prompt = "The capital of France is"
        ids = self.c.post(URL + "/tokenize", body={"prompt": prompt}, cast_to=object)["tokens"]
        self.assertGreater(len(ids), 1)
        ref, finish = self.greedy(prompt, stream=False)
        self.assertTrue(ref)
        self.assertEqual(finish, "length")
        self.assertEqual(self.greedy(prompt, stream=True), (ref, "length"))
        self.assertEqual(self.greedy(ids, stream=False), (ref, "length"))
        self.assertEqual(self.greedy(ids, stream=True), (ref, "length"))
        # A list of prompts (text and ids) gives one choice each, in order.
        r = self.c.completions.create(model=self.model, prompt=[ids, ids], max_tokens=24, temperature=0)
        self.assertEqual([c.index for c in r.choices], [0, 1])
        self.assertEqual([c.text for c in r.choices], [ref, ref])
        self.assertEqual(r.usage.prompt_tokens, 2 * len(ids))
        self.assertEqual(r.usage.completion_tokens, 48)

    def test_chat_non_stream(self):
        msgs = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hello."}]
        r = self.c.chat.completions.create(model=self.model, messages=msgs, max_tokens=12, temperature=0)
        self.assertEqual(r.object, "chat.completion")
        self.assertEqual(len(r.choices), 1)
        m = r.choices[0].message
        self.assertEqual(m.role, "assistant")
        self.assertIsInstance(m.content, str)
        self.assertIn(r.choices[0].finish_reason, ("stop", "length"))
        self.assertEqual(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens)
        self.assertLessEqual(r.usage.completion_tokens, 12)

    def test_chat_stream_include_usage(self):
        msgs = [{"role": "user", "content": "Count to five."}]
        ref = self.c.chat.completions.create(model=self.model, messages=msgs, max_tokens=12, temperature=0)
        chunks = list(self.c.chat.completions.create(model=self.model, messages=msgs, max_tokens=12, temperature=0,
                                                     stream=True, stream_options={"include_usage": True}))
        usage = [c for c in chunks if c.usage is not None]
        self.assertEqual(len(usage), 1, "exactly one usage chunk")
        self.assertIs(chunks[-1], usage[0], "the usage chunk comes last")
        self.assertEqual(usage[0].choices, [])
        self.assertEqual(usage[0].usage.completion_tokens, ref.usage.completion_tokens)
        self.assertEqual(usage[0].usage.prompt_tokens, ref.usage.prompt_tokens)
        body = [c for c in chunks if c.choices]
        self.assertEqual(body[0].choices[0].delta.role, "assistant")
        finals = [c for c in body if c.choices[0].finish_reason is not None]
        self.assertEqual(len(finals), 1)
        self.assertIs(finals[0], body[-1])
        self.assertFalse(finals[0].choices[0].delta.content)
        text = "".join(c.choices[0].delta.content or "" for c in body)
        self.assertEqual(text, ref.choices[0].message.content)
        self.assertEqual(finals[0].choices[0].finish_reason, ref.choices[0].finish_reason)

    def test_n2(self):
        r = self.c.completions.create(model=self.model, prompt="Once upon a time", max_tokens=10, n=2,
                                      temperature=4.0, seed=5)
        self.assertEqual(sorted(c.index for c in r.choices), [0, 1])
        self.assertNotEqual(r.choices[0].text, r.choices[1].text, "the two choices are sampled independently")
        self.assertEqual(r.usage.completion_tokens, 20)
        rc = self.c.chat.completions.create(model=self.model, messages=[{"role": "user", "content": "Hi"}],
                                            max_tokens=6, n=2, temperature=1.0, seed=5)
        self.assertEqual(sorted(c.index for c in rc.choices), [0, 1])

    def test_stop(self):
        prompt = "A list of fruits:"
        full, _ = self.greedy(prompt, stream=False, max_tokens=32)
        # A stop string from the middle of the greedy text: the output ends right before it.
        mid = len(full) // 2
        stop = full[mid:mid + 3]
        self.assertEqual(len(stop), 3)
        cut = full[:full.index(stop)]
        for stream in (False, True):
            kw = dict(model=self.model, prompt=prompt, max_tokens=32, temperature=0, stop=[stop])
            if stream:
                text, finish = "", None
                for ch in self.c.completions.create(stream=True, **kw):
                    for c in ch.choices:
                        text += c.text
                        finish = c.finish_reason or finish
            else:
                r = self.c.completions.create(**kw)
                text, finish = r.choices[0].text, r.choices[0].finish_reason
            self.assertEqual(text, cut, f"stream={stream}")
            self.assertEqual(finish, "stop")

    def test_seed_reproducible(self):
        # The tiny random model is very peaked (its tied embeddings favour repeating the last token):
        # a high temperature makes samples of different seeds differ.
        kw = dict(model=self.model, prompt="Tell me a story", max_tokens=16, temperature=4.0, top_p=0.95)
        a = self.c.completions.create(seed=1234, **kw).choices[0].text
        b = self.c.completions.create(seed=1234, **kw).choices[0].text
        self.assertEqual(a, b)
        others = {self.c.completions.create(seed=s, **kw).choices[0].text for s in (1, 2, 3, 4)}
        self.assertGreater(len(others | {a}), 1, "different seeds give different samples")
        msgs = [{"role": "user", "content": "Pick a word."}]
        x = self.c.chat.completions.create(model=self.model, messages=msgs, max_tokens=8, temperature=4.0, seed=9)
        y = self.c.chat.completions.create(model=self.model, messages=msgs, max_tokens=8, temperature=4.0, seed=9)
        self.assertEqual(x.choices[0].message.content, y.choices[0].message.content)
        z = self.c.chat.completions.create(model=self.model, messages=msgs, max_tokens=8, temperature=4.0, seed=10)
        self.assertNotEqual(x.choices[0].message.content, z.choices[0].message.content)

    def test_wrong_key(self):
        with self.assertRaises(openai.AuthenticationError):
            client("not-the-key").models.list()
        with self.assertRaises(openai.AuthenticationError):
            client("not-the-key").completions.create(model=self.model, prompt="x", max_tokens=1)

    def test_bad_parameter(self):
        with self.assertRaises(openai.BadRequestError) as e:
            self.c.completions.create(model=self.model, prompt="x", max_tokens=4, temperature=-1)
        self.assertIn("temperature", str(e.exception))
        with self.assertRaises(openai.BadRequestError):
            self.c.completions.create(model=self.model, prompt="x", max_tokens=-3)
        with self.assertRaises(openai.BadRequestError):
            self.c.chat.completions.create(model=self.model, messages=[{"role": "user", "content": "x"}], top_p=7)
        with self.assertRaises(openai.BadRequestError) as e:
            self.c.completions.create(model=self.model, prompt="word " * 5000, max_tokens=4)
        self.assertIn("context", str(e.exception))
        with self.assertRaises(openai.NotFoundError):
            self.c.completions.create(model="no-such-model", prompt="x", max_tokens=1)

    def test_unknown_fields_accepted(self):
        r = self.c.completions.create(model=self.model, prompt="x", max_tokens=2, temperature=0,
                                      extra_body={"some_benchmark_field": {"a": 1}, "another": [1, 2]})
        self.assertEqual(len(r.choices), 1)

    def test_rsa_through_extra_body(self):
        rsa = {"n": 4, "k": 2, "rounds": 2, "tau": 3, "max_tokens": 8, "seed": 3}
        r = self.c.chat.completions.create(model=self.model, messages=[{"role": "user", "content": "What is 2+2?"}],
                                           extra_body={"rsa": rsa})
        self.assertEqual(len(r.choices), 1)
        self.assertIsInstance(r.choices[0].message.content, str)
        run = r.model_extra["rsa"]
        self.assertEqual([len(x["population"]) if isinstance(x["population"], list) else x["population"]
                          for x in run["rounds"]], [4, 4, 4])
        self.assertEqual(r.usage.prompt_tokens, run["usage"]["prompt_tokens"])
        self.assertEqual(r.usage.completion_tokens, sum(sum(x["completion_lengths"]) for x in run["rounds"]))
        with self.assertRaises(openai.BadRequestError):
            self.c.completions.create(model=self.model, prompt="x", extra_body={"rsa": {"n": 2, "k": 3}})

    def test_logprobs_echo_max_tokens_0(self):
        ids = self.c.post(URL + "/tokenize", body={"prompt": "Hello world, again"}, cast_to=object)["tokens"]
        r = self.c.completions.create(model=self.model, prompt=ids, max_tokens=0, echo=True, logprobs=1,
                                      temperature=0)
        lp = r.choices[0].logprobs
        self.assertEqual(len(lp.token_logprobs), len(ids))
        self.assertIsNone(lp.token_logprobs[0])
        self.assertTrue(all(x <= 0 for x in lp.token_logprobs[1:]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
