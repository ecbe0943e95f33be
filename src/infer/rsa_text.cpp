// The text side of Markovian RSA (docs/rsa.md, spec zaya1-system §5.1 and interfaces-and-anchors §2):
// reasoning extraction, bounded tails, the aggregation prompt, \boxed{} extraction, answer
// normalisation and the majority vote.
#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "infer/rsa.h"

namespace zaya {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// The index just past the '}' that closes the '{' at `open` (backslash-escaped braces do not count),
// or npos when it is never closed.
size_t match_brace(const std::string& s, size_t open) {
  int depth = 0;
  for (size_t i = open; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;  // \{ \} \\ are literal
      continue;
    }
    if (s[i] == '{') ++depth;
    if (s[i] == '}' && --depth == 0) return i + 1;
  }
  return std::string::npos;
}

// Replaces every "\cmd{X}" by "X" (braces matched), for the listed wrapper commands.
std::string unwrap_commands(std::string s, const std::vector<std::string>& cmds) {
  for (const auto& cmd : cmds) {
    size_t from = 0;
    while (true) {
      size_t p = s.find(cmd, from);
      if (p == std::string::npos) break;
      size_t q = p + cmd.size();
      // A longer command name (\textbfx) or an unbraced use is left alone.
      if (q < s.size() && is_letter(s[q])) {
        from = q;
        continue;
      }
      while (q < s.size() && s[q] == ' ') ++q;
      if (q >= s.size() || s[q] != '{') {
        from = p + cmd.size();
        continue;
      }
      size_t end = match_brace(s, q);
      if (end == std::string::npos) {
        from = p + cmd.size();
        continue;
      }
      s = s.substr(0, p) + s.substr(q + 1, end - q - 2) + s.substr(end);
      from = p;
    }
  }
  return s;
}

// Removes the control word `cmd` (e.g. "\left") wherever it is not the start of a longer name.
std::string drop_control_word(const std::string& s, const std::string& cmd) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    if (s.compare(i, cmd.size(), cmd) == 0 && (i + cmd.size() >= s.size() || !is_letter(s[i + cmd.size()]))) {
      i += cmd.size();
      continue;
    }
    out += s[i++];
  }
  return out;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  size_t p = 0;
  while ((p = s.find(from, p)) != std::string::npos) {
    s.replace(p, from.size(), to);
    p += to.size();
  }
  return s;
}

// Same as replace_all for a control word: "\dfrac" but not "\dfracx".
std::string replace_control_word(const std::string& s, const std::string& from, const std::string& to) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    if (s.compare(i, from.size(), from) == 0 && (i + from.size() >= s.size() || !is_letter(s[i + from.size()]))) {
      out += to;
      i += from.size();
      continue;
    }
    out += s[i++];
  }
  return out;
}

}  // namespace

std::string rsa_reasoning_part(const std::string& trace) {
  static const std::string kOpen = "<think>", kClose = "</think>";
  std::string t = trim(trace);
  if (t.compare(0, kOpen.size(), kOpen) == 0) t = t.substr(kOpen.size());
  size_t p = t.find(kClose);
  if (p == std::string::npos) return trim(t);
  std::string before = trim(t.substr(0, p));
  if (!before.empty()) return before;
  return trim(t.substr(p + kClose.size()));
}

std::string rsa_tail(const Tokenizer& tok, const std::string& text, int64_t tau, bool words, int64_t* length) {
  ZAYA_CHECK(tau >= 1, "rsa: tau must be at least 1 (got ", tau, ")");
  if (words) {
    std::vector<std::string> w;
    size_t i = 0;
    while (i < text.size()) {
      while (i < text.size() && is_space(text[i])) ++i;
      size_t b = i;
      while (i < text.size() && !is_space(text[i])) ++i;
      if (i > b) w.push_back(text.substr(b, i - b));
    }
    if (int64_t(w.size()) <= tau) {
      if (length) *length = int64_t(w.size());
      return text;
    }
    std::string out = kRsaTruncationMarker;
    for (size_t j = w.size() - size_t(tau); j < w.size(); ++j) out += (j + size_t(tau) == w.size() ? "" : " ") + w[j];
    if (length) *length = tau;
    return out;
  }
  const std::vector<int32_t> ids = tok.encode(text, false);
  const int64_t n = int64_t(ids.size());
  if (n <= tau) {
    if (length) *length = n;
    return text;
  }
  // The suffix of ids[n-τ..] decodes to a text that usually re-encodes to the same τ ids; where a merge
  // across the cut differs, move the cut until the tail text encodes to exactly τ ids (at most 16 steps;
  // otherwise the longest tail under τ found is kept and its true length reported).
  auto tail_at = [&](int64_t start, int64_t* m) {
    std::string t = tok.decode(std::vector<int32_t>(ids.begin() + start, ids.end()), false);
    *m = int64_t(tok.encode(t, false).size());
    return t;
  };
  int64_t start = n - tau, m = 0, best_m = -1;
  std::string best;
  for (int step = 0; step < 16 && start >= 0 && start < n; ++step) {
    std::string t = tail_at(start, &m);
    if (m == tau) {
      best = std::move(t);
      best_m = m;
      break;
    }
    if (m < tau && m > best_m) {
      best = t;
      best_m = m;
    }
    start += m > tau ? 1 : -1;
  }
  if (best_m < 0) {  // every tried cut encoded longer than τ: take a single id's text
    best = tok.decode({ids.back()}, false);
    best_m = int64_t(tok.encode(best, false).size());
  }
  if (length) *length = best_m;
  return kRsaTruncationMarker + best;
}

// The wording is zaya's own (the four parts of the prompt in Zyphra's proxies and in RSA by
// Venkatraman et al. 2025; spec interfaces-and-anchors §2). docs/rsa.md quotes it verbatim.
std::string rsa_aggregation_prompt(const std::string& problem, const std::vector<std::string>& tails) {
  std::string s =
      "Several candidate solutions to the problem below follow. Some of them may be wrong or incomplete. "
      "Combine their useful ideas into one better solution. Where the candidates disagree, work out which "
      "path is correct and follow it. If all of them are wrong, try a new strategy.\n\nProblem:\n";
  s += problem;
  for (size_t i = 0; i < tails.size(); ++i) s += "\n\nSolution " + std::to_string(i + 1) + ":\n" + tails[i];
  s += "\n\nWrite one improved solution to the problem, with clear reasoning, and put the final answer in "
       "\\boxed{}.";
  return s;
}

std::optional<std::string> last_boxed(const std::string& text) {
  static const std::string kBoxed = "\\boxed";
  size_t pos = text.size();
  while (pos > 0) {
    size_t p = text.rfind(kBoxed, pos - 1);
    if (p == std::string::npos) break;
    size_t q = p + kBoxed.size();
    while (q < text.size() && (text[q] == ' ' || text[q] == '\t')) ++q;
    if (q < text.size() && text[q] == '{') {
      size_t end = match_brace(text, q);
      if (end != std::string::npos) return text.substr(q + 1, end - q - 2);
    }
    pos = p;  // unclosed (cut by the budget) or \boxedfoo: look further back
  }
  return std::nullopt;
}

std::string normalize_answer(const std::string& a) {
  std::string s = trim(a);
  s = unwrap_commands(s, {"\\text", "\\textbf", "\\textrm", "\\mathrm", "\\mathbf", "\\mbox", "\\boxed"});
  s = replace_all(s, "$", "");
  // Spacing commands, then delimiter sizing: "\left." / "\right." are invisible delimiters.
  for (const char* sp : {"\\!", "\\,", "\\;", "\\:", "\\ "}) s = replace_all(s, sp, "");
  s = replace_all(s, "\\left.", "");
  s = replace_all(s, "\\right.", "");
  s = drop_control_word(s, "\\left");
  s = drop_control_word(s, "\\right");
  s = drop_control_word(s, "\\displaystyle");
  s = replace_control_word(s, "\\dfrac", "\\frac");
  s = replace_control_word(s, "\\tfrac", "\\frac");
  s = replace_all(s, "^{\\circ}", "");
  s = replace_all(s, "^\\circ", "");
  std::string out;
  for (char c : s)
    if (!is_space(c)) out += c;
  while (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

int majority_vote(const std::vector<RsaOutput>& outs, std::string* answer,
                  std::vector<std::pair<std::string, int>>* tally_out) {
  // Tally in first-seen order over [finished traces in order, then unfinished traces in order]; the most
  // votes win, a tie goes to the answer earliest in that order, and the winning trace is the first
  // trace holding it in that order (so a finished one when there is one).
  std::vector<size_t> order;
  for (int pass = 0; pass < 2; ++pass)
    for (size_t i = 0; i < outs.size(); ++i)
      if (outs[i].finished == (pass == 0)) order.push_back(i);
  std::vector<std::pair<std::string, int>> tally;
  std::vector<int> first;  // winning trace per tally entry
  for (size_t i : order) {
    auto b = last_boxed(outs[i].text);
    if (!b) continue;
    std::string key = normalize_answer(*b);
    if (key.empty()) continue;  // "\boxed{}" (e.g. echoed from the prompt) does not vote
    auto it = std::find_if(tally.begin(), tally.end(), [&](auto& e) { return e.first == key; });
    if (it == tally.end()) {
      tally.push_back({key, 1});
      first.push_back(int(i));
    } else {
      it->second++;
    }
  }
  if (tally_out) *tally_out = tally;
  if (tally.empty()) {
    if (answer) answer->clear();
    return -1;
  }
  size_t w = 0;
  for (size_t j = 1; j < tally.size(); ++j)
    if (tally[j].second > tally[w].second) w = j;
  if (answer) *answer = tally[w].first;
  return first[w];
}

}  // namespace zaya
