#!/usr/bin/env python3
"""Writes tests/data/jinja/golden.json: what Python's jinja2 renders, the way transformers'
apply_chat_template renders chat templates, for every template in tests/data/jinja/*.jinja and
every conversation below, plus small feature snippets and syntax errors. tests/test_jinja.cpp
checks that zaya's interpreter (src/serve/jinja*.cpp) gives the same bytes, or the same error
message.

The environment is transformers' (utils/chat_template_utils.py, _compile_jinja_template):
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
extensions=[AssistantTracker, jinja2.ext.loopcontrols]), with its tojson filter
(json.dumps(ensure_ascii=False, ...)), raise_exception() and strftime_now() (here at a fixed time,
so the file is reproducible). The render arguments are transformers' too: messages, tools (None
when absent), documents=None, add_generation_prompt, the special tokens, and the extra kwargs.

    python3 tools/reference/make_jinja_golden.py      # needs jinja2 (tested with 3.1.6)
"""
import datetime
import json
import os
import sys

import jinja2
import jinja2.ext
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "tests", "data", "jinja")
NOW = datetime.datetime(2024, 7, 26, 10, 0, 0)  # what strftime_now() sees


def make_env():
    class AssistantTracker(Extension):
        # transformers' {% generation %} tag; with no tracker active it renders its body
        tags = {"generation"}

        def parse(self, parser):
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
            return jinja2.nodes.CallBlock(self.call_method("_generation_support"), [], [], body).set_lineno(lineno)

        def _generation_support(self, caller):
            return caller()

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return NOW.strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[AssistantTracker, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


ENV = make_env()


def render(source, context):
    """{"expected": text} or {"error": message} (+ "line" for syntax errors)."""
    try:
        tmpl = ENV.from_string(source)
    except jinja2.exceptions.TemplateSyntaxError as e:
        return {"error": e.message, "line": e.lineno, "phase": "parse"}
    except SyntaxError as e:  # the Python code jinja2 generates does not compile ('break' outside loop)
        return {"error": e.msg, "phase": "parse"}
    try:
        return {"expected": tmpl.render(**context)}
    except jinja2.exceptions.TemplateSyntaxError as e:
        return {"error": e.message, "line": e.lineno, "phase": "parse"}
    except Exception as e:  # the message the template or Python gives
        return {"error": str(e), "phase": "render", "type": type(e).__name__}


# ----------------------------------------------------------------------------- conversations

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.\n",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city, e.g. \"Paris\""},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Temperature unit"},
                "days": {"type": ["integer", "null"], "description": "Forecast days"},
            },
            "required": ["city"],
        },
    },
}
SEARCH_TOOL = {
    "type": "function",
    "function": {
        "name": "search",
        "description": "Search the web — returns snippets.",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"},
                                                         "filters": {"type": "object", "properties": {
                                                             "site": {"type": "string"}}}},
                       "required": ["query"]},
    },
}


def tc(name, args, id_="call_1"):
    return {"id": id_, "type": "function", "function": {"name": name, "arguments": args}}


CONVERSATIONS = {
    "single_user": dict(messages=[{"role": "user", "content": "Hello! How are you?"}]),
    "system_multi_turn": dict(messages=[
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "2+2 is 4."},
        {"role": "user", "content": "And 3+3?"},
    ]),
    "no_generation_prompt": dict(add_generation_prompt=False, messages=[
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello, how can I help?"},
    ]),
    "reasoning_content": dict(messages=[
        {"role": "user", "content": "Is 17 prime?"},
        {"role": "assistant", "content": "Yes, 17 is prime.", "reasoning_content": "17 has no divisors but 1 and 17."},
        {"role": "user", "content": "And 21?"},
    ]),
    "inline_think": dict(messages=[
        {"role": "user", "content": "Think first."},
        {"role": "assistant", "content": "<think>\nLet me think.\n</think>\n\nDone thinking."},
        {"role": "user", "content": "Again."},
        {"role": "assistant", "content": "<think>second</think>Answer two."},
    ], add_generation_prompt=False),
    "list_content": dict(messages=[
        {"role": "system", "content": [{"type": "text", "text": "System as parts."}]},
        {"role": "user", "content": [{"type": "text", "text": "Part one. "}, {"type": "text", "text": "Part two."}]},
    ]),
    "tools_and_calls_dict_args": dict(tools=[WEATHER_TOOL, SEARCH_TOOL], messages=[
        {"role": "system", "content": "Use tools when needed."},
        {"role": "user", "content": "Weather in Paris and Tokyo?"},
        {"role": "assistant", "content": "", "tool_calls": [
            tc("get_weather", {"city": "Paris", "unit": "celsius"}, "call_1"),
            tc("get_weather", {"city": "Tokyo", "days": 3, "extra": {"a": [1, 2.5, True, None]}}, "call_2")]},
        {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "{\"temp\": 21}"},
        {"role": "tool", "tool_call_id": "call_2", "name": "get_weather", "content": "{\"temp\": 28}"},
        {"role": "assistant", "content": "Paris is 21°C and Tokyo is 28°C."},
        {"role": "user", "content": "Thanks!"},
    ]),
    "tool_call_string_args": dict(tools=[WEATHER_TOOL], messages=[
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": None, "tool_calls": [tc("get_weather", "{\"city\": \"Oslo\"}")]},
        {"role": "tool", "tool_call_id": "call_1", "content": "cold"},
    ]),
    "tools_no_calls": dict(tools=[SEARCH_TOOL], messages=[{"role": "user", "content": "Find jinja docs"}]),
    "empty_content": dict(messages=[
        {"role": "user", "content": ""},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": "still there?"},
    ]),
    "unicode": dict(messages=[
        {"role": "system", "content": "Réponds en français. «ok» — 👍🏽"},
        {"role": "user", "content": "こんにちは 🌸 \"quotes\" 'single' back\\slash\ttab\nnewline  "},
        {"role": "assistant", "content": "  Привет! ✨  "},
        {"role": "user", "content": "Zero-width\u200djoiner and \u00a0nbsp"},
    ]),
    "roles_not_alternating": dict(messages=[
        {"role": "user", "content": "one"},
        {"role": "user", "content": "two"},
    ]),
    "thinking_disabled": dict(extra={"enable_thinking": False}, messages=[
        {"role": "user", "content": "Quick answer please."},
    ]),
    "thinking_enabled": dict(extra={"enable_thinking": True}, messages=[
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Why is the sky blue?"},
    ]),
    "assistant_last": dict(add_generation_prompt=False, messages=[
        {"role": "user", "content": "Say hi"},
        {"role": "assistant", "content": "Hi!", "reasoning_content": "Greeting."},
    ]),
}

# templates whose context also needs a date (Llama 3.x use date_string when strftime_now is absent)
SPECIAL_TOKENS = {
    "gemma3": {"bos_token": "<bos>", "eos_token": "<eos>"},
    "gemma-2": {"bos_token": "<bos>", "eos_token": "<eos>"},
    "llama-3.1": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    "llama-3.2": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    "hermes-3-tool-use": {"bos_token": "<|begin_of_text|>", "eos_token": "<|im_end|>"},
    "mistral-nemo": {"bos_token": "<s>", "eos_token": "</s>"},
    "deepseek-r1-distill": {"bos_token": "<｜begin▁of▁sentence｜>", "eos_token": "<｜end▁of▁sentence｜>"},
    "deepseek-v3.1": {"bos_token": "<｜begin▁of▁sentence｜>", "eos_token": "<｜end▁of▁sentence｜>"},
    "phi-3.5": {"bos_token": "<s>", "eos_token": "<|endoftext|>"},
    "zaya1-8b-like": {"bos_token": "<bos>", "eos_token": "<eos>"},
    "command-r-plus-tool-use": {"bos_token": "<BOS_TOKEN>", "eos_token": "<|END_OF_TURN_TOKEN|>"},
}
DEFAULT_TOKENS = {"bos_token": "<s>", "eos_token": "</s>"}


def conversation_context(conv, tokens):
    ctx = dict(tokens)
    ctx.update(conv.get("extra", {}))
    ctx.update(messages=conv["messages"], tools=conv.get("tools"), documents=None,
               add_generation_prompt=conv.get("add_generation_prompt", True))
    return ctx


# ------------------------------------------------------------------------------------ snippets

SNIPPET_CONTEXT = {
    "s": "Hello World", "u": "héllo wörld ß ǆ Σίσυφος", "n": 42, "f": 3.5, "neg": -7, "big": 10 ** 15,
    "l": [3, 1, 2], "words": ["b", "A", "a", "C"], "d": {"b": 2, "a": 1, "items": "x"}, "none": None,
    "t": True, "fa": False, "e": "", "emoji": "👍🏽 ok", "ws": " \t\n spaced \u3000\n",
    "users": [{"name": "Ann", "age": 30, "tags": ["x"]}, {"name": "bob", "age": 25, "tags": []},
              {"name": "Cid", "age": 30, "tags": ["y", "z"]}],
    "nested": {"a": {"b": {"c": [10, 20, 30]}}},
    "msg": {"role": "user", "content": "hi", "tool_calls": None},
}

SNIPPETS = [
    # printing and Python's str()/repr()
    "{{ none }}|{{ t }}|{{ fa }}|{{ 1.0 }}|{{ 1e16 }}|{{ 1e15 }}|{{ 0.1 + 0.2 }}|{{ 1.5e-7 }}|{{ 0.0001 }}|{{ -0.0 }}|{{ 2**0.5 }}",
    "{{ [1, 'a', none, true, 1.5, {'k': 'v'}, (1,), (), [(1, 2)]] }}",
    "{{ ['it\\'s', 'a\"b', 'a\\nb\\t\\\\', 'ü😀', '\\x00\\x7f\\x85\\xa0', '\\u200d\\u2028', \"both'\\\"\"] }}",
    "{{ d }}|{{ d.items() }}|{{ d.keys() }}|{{ d.values() }}|{{ range(3) }}|{{ range(1, 9, 2) }}",
    "{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 10 / 4 }} {{ 2 ** 10 }} {{ 2 ** -2 }}",
    "{{ n + f }} {{ n - 50 }} {{ n * 2.5 }} {{ 'ab' * 3 }} {{ [1] * 3 }} {{ [1] + [2] }} {{ (1,) + (2,) }} {{ 3 * 'x' }}",
    "{{ 'a' ~ 1 ~ none ~ [1] ~ x }}|{{ -n }}|{{ +f }}|{{ not e }}|{{ e or 'dflt' }}|{{ s and n }}|{{ none or fa }}",
    "{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }} {{ 1 == 1.0 }} {{ 'a' != 'b' }} {{ [1,2] < [1,3] }} {{ (1,2) >= (1,2) }} {{ 'abc' < 'abd' }}",
    "{{ 'ell' in s }} {{ 2 in l }} {{ 'a' in d }} {{ 'z' not in d }} {{ 5 not in l }} {{ 'x' in x }}",
    "{{ 1 if t else 2 }}|{{ 1 if fa }}|{{ (1 if fa) is defined }}|{{ 'a' if none else 'b' if e else 'c' }}",
    # attribute/item access, slicing, negative indexes
    "{{ nested.a.b.c[1] }} {{ nested['a']['b'].c[-1] }} {{ nested.a.b.c.0 }} {{ users[0].name }} {{ users[-1]['age'] }}",
    "{{ l[1:] }} {{ l[::-1] }} {{ l[-2:] }} {{ l[:10] }} {{ l[5:] }} {{ s[1:4] }} {{ s[::-2] }} {{ u[1:5] }} {{ u[-3:] }} {{ (1,2,3)[1:] }}",
    "{{ d.items is callable }} {{ d.items() | list }}",
    "[{{ d['items'] }}] [{{ d.missing }}] [{{ l[10] }}] [{{ s[100] }}] [{{ none.x }}] [{{ d.get('a') }}] [{{ d.get('z', 9) }}] [{{ d.get('z') }}]",
    "{{ nested.missing.deeper }}",
    "{{ l[10].x }}",
    "{{ x.y }}",
    "{{ x + 1 }}",
    "{{ 'a' + 1 }}",
    "{{ 1 + 'a' }}",
    "{{ 'a' < 1 }}",
    "{{ [1] + (2,) }}",
    "{{ 'x' + none }}",
    "{{ 10 / 0 }}",
    "{{ 10 // 0 }}",
    "{{ 10 % 0 }}",
    "{{ 1.5 / 0 }}",
    "{{ none() }}",
    "{{ 'a' in 1 }}",
    "{{ 1 in 'a' }}",
    "{% for a in 5 %}{% endfor %}",
    "{% for a in none %}{% endfor %}",
    "{% for a, b in [[1, 2, 3]] %}{% endfor %}",
    "{% for a, b in [[1]] %}{% endfor %}",
    # string methods
    "{{ ' x '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '..a..'.lstrip('.') }}|{{ '..a..'.rstrip('.') }}|{{ ws.strip() }}|{{ ws.split() }}",
    "{{ 'a,b,,c'.split(',') }} {{ 'a b  c'.split(' ') }} {{ 'a,b,c'.split(',', 1) }} {{ 'a,b,c'.rsplit(',', 1) }} {{ '  a b c  '.split(none, 1) }} {{ '  a b c  '.rsplit(none, 1) }}",
    "{{ s.startswith('Hell') }} {{ s.endswith('ld') }} {{ s.startswith(('x', 'H')) }} {{ s.startswith('World', 6) }} {{ s.endswith('Hello', 0, 5) }}",
    "{{ s.upper() }} {{ s.lower() }} {{ 'hello wORLD they\\'re'.title() }} {{ 'hELLO wORLD'.capitalize() }} {{ s.swapcase() }}",
    "{{ u.upper() }} {{ u.lower() }} {{ u.title() }} {{ u.capitalize() }}",
    "{{ s.replace('l', 'L') }} {{ s.replace('l', 'L', 2) }} {{ 'abc'.replace('', '-') }} {{ 'abc'.replace('', '-', 2) }}",
    "{{ s.find('o') }} {{ s.rfind('o') }} {{ s.find('zz') }} {{ s.count('l') }} {{ 'aaaa'.count('aa') }} {{ s.index('W') }} {{ u.find('w') }} {{ ''.count('') }} {{ 'ab'.count('') }}",
    "{{ s.index('zz') }}",
    "{{ '-'.join(['a', 'b', 'c']) }} {{ ''.join(words) }} {{ ', '.join(d) }}",
    "{{ '-'.join([1, 2]) }}",
    "{{ 'ab'.center(6) }}|{{ 'ab'.center(7, '*') }}|{{ 'ab'.ljust(5, '.') }}|{{ 'ab'.rjust(5) }}|{{ '42'.zfill(5) }}|{{ '-42'.zfill(5) }}",
    "{{ 'a=b=c'.partition('=') }} {{ 'a=b=c'.rpartition('=') }} {{ 'abc'.partition('x') }} {{ 'prefix_x'.removeprefix('prefix_') }} {{ 'x.txt'.removesuffix('.txt') }}",
    "{{ '123'.isdigit() }} {{ 'abc'.isalpha() }} {{ 'ab1'.isalnum() }} {{ '  '.isspace() }} {{ 'abc'.islower() }} {{ 'ABC'.isupper() }} {{ ''.isalpha() }} {{ 'Ab'.islower() }} {{ '٣'.isdecimal() }}",
    "{{ 'a\\nb\\r\\nc\\rd'.splitlines() }} {{ 'a\\nb'.splitlines(true) }}",
    "{{ '{} and {}'.format(1, 'two') }} {{ '{0}{1}{0}'.format('a', 'b') }} {{ '{x}-{y}'.format(x=1, y=2) }} {{ '{:>6}|{:<4}|{:^5}|{:05d}|{:.2f}|{:+d}|{:,}'.format('r', 'l', 'c', 42, 3.14159, 7, 1234567) }}",
    "{{ '{0[0]} {0[1]} {1.a}'.format(['x', 'y'], {'a': 1}) }} {{ '{{literal}} {}'.format(5) }} {{ '{!r} {!s}'.format('q', 'q') }} {{ '{:x} {:X} {:o} {:b} {:#x}'.format(255, 255, 8, 5, 255) }} {{ '{:.3} {} {:e} {:g}'.format(1.0, 2.5, 12345.678, 0.00001234) }}",
    "{{ '%s and %s' % ('a', 'b') }} {{ '%d|%5d|%-5d|%05d' % (42, 42, 42, 42) }} {{ '%.2f|%8.3f|%e|%g' % (3.14159, 2.5, 12345.678, 0.0001) }} {{ '%s' % none }} {{ '%r' % 'q' }} {{ '%x %X %o %%' % (255, 255, 8) }} {{ '%(a)s-%(b)s' % {'a': 1, 'b': 2} }} {{ '%s' % [1, 2] }} {{ '%5.1s|' % 'abc' }}",
    "{{ '%s %s' % ('a',) }}",
    "{{ '%s' % ('a', 'b') }}",
    "{{ l.append(4) }}",
    "{% set x = l.append %}[{{ x }}]",
    "{{ d.update({'c': 3}) }}",
    "{{ d.pop('a') }}",
    "{{ l.index(1) }} {{ l.count(3) }} {{ (1, 2, 1).count(1) }} {{ l.copy() }}",
    # filters
    "{{ '  a  ' | trim }}|{{ 'xxaxx' | trim('x') }}|{{ s | upper }}|{{ s | lower }}|{{ 'hello world-wide (test) [x]' | title }}|{{ 'hELLO' | capitalize }}",
    "{{ l | sort }} {{ l | sort(reverse=true) }} {{ words | sort }} {{ words | sort(case_sensitive=true) }} {{ users | sort(attribute='age') | map(attribute='name') | list }} {{ users | sort(attribute='age,name') | map(attribute='name') | join(',') }}",
    "{{ [1, 2, 2, 3, 1] | unique | list }} {{ ['A', 'a', 'b', 'B'] | unique | list }} {{ ['A', 'a'] | unique(case_sensitive=true) | list }} {{ users | unique(attribute='age') | map(attribute='name') | list }}",
    "{{ l | reverse | list }} {{ 'abc' | reverse }} {{ l | first }} {{ l | last }} {{ s | first }} {{ [] | first }}|{{ d | first }} {{ d | last }}",
    "{{ x | default('dflt') }} {{ none | default('dflt') }} {{ e | default('dflt') }} {{ e | default('dflt', true) }} {{ e | d('D', boolean=true) }} {{ fa | default(1, true) }}",
    "{{ l | join }} {{ l | join(', ') }} {{ users | join('|', attribute='name') }} {{ users | map(attribute='name') | join(' ') }} {{ words | map('lower') | join }} {{ users | map(attribute='missing', default='?') | list }}",
    "{{ [1, 2, 3, 4] | select('odd') | list }} {{ [1, 2, 3, 4] | reject('odd') | list }} {{ [0, 1, '', 'a', none] | select | list }} {{ users | selectattr('tags') | map(attribute='name') | list }} {{ users | rejectattr('tags') | map(attribute='name') | list }} {{ users | selectattr('age', 'equalto', 30) | map(attribute='name') | list }} {{ users | selectattr('name', 'in', ['Ann', 'bob']) | list | length }}",
    "{{ 'T' if [] | select else 'F' }} {{ [1, 2] | select | list | length }} {{ d | dictsort }} {{ d | dictsort(reverse=true) }} {{ {'b': 1, 'a': 2} | dictsort(by='value') }} {{ d | items | list }}",
    "{{ [1, 2] | select | length }}",
    "{{ 3.7 | int }} {{ '42' | int }} {{ ' 42 ' | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ '3.9' | int }} {{ '0x1A' | int(0, 16) }} {{ t | int }} {{ '3.5' | float }} {{ 'x' | float }} {{ 2 | float }} {{ '1e3' | float }}",
    "{{ -3 | abs }} {{ neg | abs }} {{ -2.5 | abs }} {{ 2.567 | round(2) }} {{ 2.5 | round }} {{ 3.5 | round }} {{ 2.567 | round(1, 'floor') }} {{ 2.521 | round(1, 'ceil') }} {{ 3 | round }} {{ 0.125 | round(2) }} {{ 2.675 | round(2) }}",
    "{{ 1 | string }} {{ none | string }} {{ l | string }} {{ 'a b  c\\td' | wordcount }} {{ u | wordcount }} {{ l | length }} {{ s | count }} {{ d | length }} {{ u | length }} {{ x | length }} {{ emoji | length }}",
    "[{{ 'a\\nb\\n\\nc' | indent }}] [{{ 'a\\nb' | indent(2, true) }}] [{{ 'a\\n\\nb' | indent(first=true, blank=true) }}] [{{ 'x\\ny' | indent('> ') }}] [{{ 'ab' | center(6) }}]",
    "{{ [1, 2, 3, 4, 5] | batch(2) | list }} {{ [1, 2, 3, 4, 5] | batch(2, 0) | list }} {{ [1, 2, 3, 4, 5] | slice(2) | list }} {{ [1, 2, 3, 4, 5] | slice(3, 'x') | list }}",
    "{{ 'abc' | list }} {{ d | list }} {{ (1, 2) | list }} {{ x | list }} {{ [3, 1, 2] | max }} {{ [3, 1, 2] | min }} {{ words | max }} {{ words | min(case_sensitive=true) }} {{ users | max(attribute='age') }} {{ [1, 2, 3] | sum }} {{ users | sum(attribute='age') }} {{ [[1], [2]] | sum(start=[]) }}",
    "{{ 'a<b & \"c\" \\'d\\'' | e }} {{ 'a<b' | escape }} {{ 'a<b' | safe }} {{ 5 | safe }} {{ 'x' | forceescape }}",
    "{{ s | replace('o', '0') }} {{ s | replace('l', '', 1) }} {{ 'a%sb' | format('X') }} {{ '%s-%s' | format(1, 2) }} {{ '%(k)s' | format(k='v') }} {{ d | attr('items') | string | length > 0 }} [{{ d | attr('a') }}]",
    "{{ 'The quick brown fox jumps over the lazy dog.' | truncate(20) }}|{{ 'The quick brown fox' | truncate(9, true) }}|{{ 'short' | truncate(10) }}|{{ 'The quick brown fox jumps' | truncate(18, end='…', leeway=0) }}",
    "{{ d | tojson }} {{ 'é<>&\\'\"\\n\\u2028' | tojson }} {{ [1, 2.0, none, true, 'x'] | tojson }} {{ {'a': [1, {'b': 2}]} | tojson(indent=2) }} {{ {'b': 1, 'a': [1, 2]} | tojson(sort_keys=true, separators=(',', ':')) }} {{ 'é😀' | tojson(ensure_ascii=true) }} {{ {} | tojson(indent=2) }} {{ [] | tojson(indent='\\t') }} {{ {1: 'int key', none: 'n', 1.5: 'f'} | tojson }} {{ users | tojson(indent=0) }}",
    "{{ x | tojson }}",
    "{{ range(3) | tojson }}",
    "{{ x | foo }}",
    "{% if false %}{{ x | foo }}{% endif %}ok",
    "{% if true %}{{ x | foo }}{% endif %}",
    "{{ x is foo }}",
    "{{ 1 | round(1, 'middle') }}",
    "{{ d | dictsort(by='foo') }}",
    "{{ 5 | items | list }}",
    # tests
    "{{ x is defined }} {{ x is undefined }} {{ none is none }} {{ n is number }} {{ t is number }} {{ n is integer }} {{ t is integer }} {{ f is float }} {{ s is string }} {{ d is mapping }} {{ l is iterable }} {{ s is iterable }} {{ n is iterable }} {{ l is sequence }} {{ d is sequence }} {{ t is boolean }} {{ n is boolean }}",
    "{{ t is true }} {{ 1 is true }} {{ fa is false }} {{ 0 is false }} {{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }} {{ 1 is eq 1 }} {{ 1 is equalto 1.0 }} {{ 1 is ne 2 }} {{ 2 is gt 1 }} {{ 2 is lt 1 }} {{ 2 is ge 2 }} {{ 2 is le 1 }} {{ 2 is greaterthan 1 }} {{ 'a' is in 'abc' }} {{ 2 is in l }}",
    "{{ 'abc' is lower }} {{ 'ABC' is upper }} {{ range is callable }} {{ s is callable }} {{ none is sameas none }} {{ 1 is sameas 1 }} {{ l is sameas l }} {{ 'upper' is filter }} {{ 'nope' is filter }} {{ 'odd' is test }} {{ x is not defined }} {{ not x is defined }} {{ s is not string }} {{ s is escaped }}",
    "{{ msg.tool_calls is none }} {{ msg.tool_calls is defined }} {{ msg.nope is defined }} {{ msg['role'] is string }} {{ msg.content is not none and msg.content is string }}",
    # statements
    "{% for k, v in d.items() %}{{ loop.index }}{{ k }}={{ v }}{{ loop.revindex }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}",
    "{% for x in [] %}a{% else %}empty{% endfor %} {% for x in l if x > 1 %}{{ loop.index }}:{{ x }}/{{ loop.length }} {% else %}none{% endfor %}",
    "{% for i in range(3) %}[{{ loop.previtem }}|{{ loop.nextitem }}|{{ loop.cycle('a', 'b') }}|{{ loop.changed(i // 2) }}|{{ loop.index0 }}|{{ loop.revindex0 }}|{{ loop.depth }}]{% endfor %}",
    "{% for i in range(2) %}{% for j in range(3) %}{{ loop.index }}{% endfor %}-{{ loop.index }} {% endfor %}",
    "{% for i in range(10) %}{% if i == 1 %}{% continue %}{% endif %}{% if i == 4 %}{% break %}{% endif %}{{ i }}{% endfor %}",
    "{% for c in 'héllo' %}[{{ c }}]{% endfor %} {% for k in d %}{{ k }}{% endfor %} {% for i in x %}never{% endfor %}",
    "{% for i in range(3) %}{{ loop }}{% endfor %}",
    "{% set x = 1 %}{% for i in range(3) %}{% if i == 1 %}{% set x = 5 %}{% endif %}{{ x }}{% endfor %}{{ x }}",
    "{% set x = 0 %}{% for i in range(3) %}{% set x = x + 1 %}{{ x }}{% endfor %}{{ x }}",
    "{% if true %}{% set z = 3 %}{% endif %}{{ z }} {% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]",
    "{% set ns = namespace(count=0, items=[]) %}{% for u in users %}{% set ns.count = ns.count + u.age %}{% set ns.items = ns.items + [u.name] %}{% endfor %}{{ ns.count }} {{ ns.items }} {{ ns }}",
    "{% set ns = namespace(a=1) %}{{ ns.b }}|{{ ns.a }}|{{ namespace(d) }}",
    "{% set x = 5 %}{% set x.y = 1 %}",
    "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set c = 1, 2 %}{{ c }}{% set p, q = 'xy' %}{{ q }}{{ p }}",
    "{% set block %}captured {{ n }}{% endset %}[{{ block }}]{% set up | upper | trim %}  shout {% endset %}[{{ up }}]",
    "{% filter upper %}abc {{ s }}{% endfilter %}{% filter replace('a', 'b') | trim %}  aaa  {% endfilter %}",
    "{% macro greet(name, greeting='Hello') %}{{ greeting }}, {{ name }}!{% endmacro %}{{ greet('Ann') }} {{ greet('Bob', 'Hi') }} {{ greet(greeting='Yo', name='Cid') }} [{{ greet() }}]",
    "{% macro m(a) %}{{ a }}|{{ varargs }}|{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, k=4) }}",
    "{% macro m(a, b=2) %}{% endmacro %}{{ m(1, 2, 3) }}",
    "{% macro m(a, b=2) %}{% endmacro %}{{ m(1, c=3) }}",
    "{% macro m(a) %}{% endmacro %}{{ m(1, a=2) }}",
    "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}bold {{ n }}{% endcall %} {% macro each(xs) %}{% for x in xs %}{{ caller(x) }}{% endfor %}{% endmacro %}{% call(item) each([1, 2]) %}({{ item }}){% endcall %}",
    "{% macro m() %}[{{ x }}]{% endmacro %}{% set x = 1 %}{{ m() }}{% set x = 2 %}{{ m() }}",
    "{% macro fact(k) %}{{ 1 if k <= 1 else k * fact(k - 1) | int }}{% endmacro %}{{ fact(6) }}",
    "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
    "{{ m }}{% macro m() %}{% endmacro %}{{ m is callable }}",
    "{% generation %}gen {{ n }}{% endgeneration %}|{% generation %}{% set inner = 1 %}{% endgeneration %}[{{ inner }}]",
    "{% raw %}{{ not rendered }} {% if %}{% endraw %}|{%- raw -%}   x   {%- endraw -%}|",
    "{# comment #}a{#- trimmed -#}  b  {#+ kept +#} c",
    "{% print 'p', n %}",
    "{{ dict(a=1, b=2) }} {{ dict() }} {{ dict([('x', 1)], y=2) }} {{ range(5) | list }} {{ range(10, 0, -3) | list }} {{ range(0) | list }} {{ namespace() }}",
    "{{ range(100001) | length }}",
    "{{ range(1, 2, 0) }}",
    "{{ cycler('a', 'b').next() }}{% set c = cycler(1, 2, 3) %}{{ c.next() }}{{ c.next() }}{{ c.current }}{% set j = joiner('+') %}{{ j() }}a{{ j() }}b{{ j() }}c",
    "{{ raise_exception('custom failure: ' ~ n) }}",
    "{{ strftime_now('%Y-%m-%d %H:%M %d %b %Y %A') }}",
    "{{ {'a': 1}['a'] }} {{ {'a': 1}.a }} {{ {1: 'one'}[1] }} {{ {1: 'one'}[1.0] }} {{ {true: 'b'}[1] }} {{ {'a': 1} == {'a': 1.0} }} {{ [1, 2] == (1, 2) }} {{ {(1, 2): 'tup'}[(1, 2)] }}",
    "{{ {[1]: 2} }}",
    "{{ 2 ** 62 }} {{ -(2 ** 62) * 2 }}",
    "{{ ([1, 2] | reverse) is iterable }} {{ 'T' if [] | reverse else 'F' }}",
    "{% if false %}{% include 'x.html' %}{% endif %}ok{% include 'x.html' %}",
    "{% from 'x' import y %}",
    # found by comparing the fuzzer's corpus with jinja2
    "{{ '%s|' % x }}{{ 'abc' % [1] }}{{ 'x' % {'a': 1} }}|{{ '{:.1} {:.3} {:.0} {:.2}'.format(1.0, 1.0, 2.5, 123.456) }}|{{ '{} {:d} {}'.format(true, true, none) }}",
    "{{ '{:x}'.format(none) }}",
    "{{ '{0}{}'.format(1, 2) }}",
    "{{ '{5}'.format(1) }}",
    "{{ '%-%' % () }}",
    "{{ '%\x01' % 1 }}",
    "{{ ['a'] | sum }}",
    "{{ x | indent }}",
    "[{{ x | truncate }}]{{ x | round(1, 'floor') }}",
    "{{ users | sort(attribute='nope.x') }}",
    "{{ n is odd(1) }}",
    "{{ n is divisibleby }}",
    "{{ n is string(attribute=1) }}",
    "{{ range is callable(1) }}",
    "{{ n is eq(1, 2) }}",
    "{{ range - 1 }}",
    "{{ raise_exception - 1 }}",
    "{{ d | dictsort(by=x) }}",
    "{{ [1] | map(foo='bar') | list }}",
    "{{ 'a b'.split(x) }}",
    "{{ range(1, 2, 3, 4) }}",
    "{{ f(*5) }}",
    # whitespace control
    "a\n  {% if true %}\n    b\n  {% endif %}\n  c\n",
    "a  {%- if true -%}  b  {%- endif -%}  c",
    "a  {%+ if true +%}\n  b\n  {%+ endif %}\nc",
    "a\n{{- ' b ' -}}\nc {{ 'd' }}\n  e",
    "  {% for i in range(2) %}\n  item{{ i }}\n  {% endfor %}\nend\n\n",
    "x {#- c #}\n  y",
    "line1\r\nline2\r{% if true %}\r\n x{% endif %}",
    "{{ 'a' }}\n",
    "\t{% set x = 1 %}\t|\n\u3000{% set y = 2 %}|",
]

SYNTAX_ERRORS = [
    "{% if true %}unclosed",
    "{% for x in y %}{% endif %}",
    "{% endfor %}",
    "{% foo %}",
    "{{ }}",
    "{{ 1 + }}",
    "{{ (1, 2 }}",
    "{{ [1, 2) }}",
    "{{ 'unterminated }}",
    "{{ a.1b }}",
    "{% set %}",
    "{% macro m(a=1, b) %}{% endmacro %}",
    "{% break %}",
    "{% for x in y %}{% macro m() %}{% break %}{% endmacro %}{% endfor %}",
    "{# unclosed comment",
    "{% raw %}no end",
    "{{ x | }}",
    "{{ x is }}",
    "{{ x is defined is defined }}",
    "{% if x %}{% else %}{% else %}{% endif %}",
    "{% set 1 = 2 %}",
    "{{ 1 + + }}",
    "{{ x !y }}",
    "{% for %}",
    "{% call m %}{% endcall %}",
    "line 1\nline 2 {{ )",
    "{% elif %} then {{ ) }}",
    "{{ x.}",
    "{{ '\u00e9\u00e9' ! }}",
    "{{ \u0663abc }}",
    "{{ a\u00b7b }}{{ \u00b2 }}",
]


def main():
    templates = {}
    for fn in sorted(os.listdir(DATA)):
        if fn.endswith(".jinja"):
            with open(os.path.join(DATA, fn), encoding="utf-8", newline="") as f:
                templates[fn[:-len(".jinja")]] = f.read()
    cases = []
    for name, source in templates.items():
        tokens = SPECIAL_TOKENS.get(name, DEFAULT_TOKENS)
        for conv_name, conv in CONVERSATIONS.items():
            case = {"template": name, "conversation": conv_name, "messages": conv["messages"],
                    "tools": conv.get("tools"), "add_generation_prompt": conv.get("add_generation_prompt", True),
                    "extra": conv.get("extra", {}), "bos_token": tokens["bos_token"], "eos_token": tokens["eos_token"]}
            case.update(render(source, conversation_context(conv, tokens)))
            cases.append(case)
    snippets = []
    for src in SNIPPETS:
        snippets.append({"source": src, **render(src, SNIPPET_CONTEXT)})
    syntax = []
    for src in SYNTAX_ERRORS:
        r = render(src, SNIPPET_CONTEXT)
        assert "error" in r and r.get("phase") == "parse", (src, r)
        syntax.append({"source": src, **r})
    out = {
        "generator": "tools/reference/make_jinja_golden.py",
        "jinja2_version": jinja2.__version__,
        "now": NOW.strftime("%Y-%m-%dT%H:%M:%S"),
        "snippet_context": SNIPPET_CONTEXT,
        "cases": cases,
        "snippets": snippets,
        "syntax_errors": syntax,
    }
    with open(os.path.join(DATA, "golden.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    n_err = sum(1 for c in cases if "error" in c)
    print(f"{len(templates)} templates, {len(cases)} cases ({n_err} errors), {len(snippets)} snippets, "
          f"{len(syntax)} syntax errors -> {os.path.relpath(os.path.join(DATA, 'golden.json'), ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
