// Op registry entries: value shift, KV append, attention (ops/attention.h).
// The harness and the fields of an entry: tests/backend_ops.h.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend_ops.h"
#include "ops/attention.h"

namespace zaya::test {
namespace {

using Rng = std::mt19937_64;
using TD = Tensors<double>;
using TF = Tensors<float>;

// ---------------------------------------------------------------------------------------------------------
// Value shift, KV cache, attention (ops/attention.h)

// shape: len1, len2, vh, with_state (decode: vdel in and out; training: zeros, with a backward)
void vshift_ref(const Shape& s, TD& t, bool state) {
  const int64_t vh = s[2], kv = 2 * vh;
  t["v"].assign(size_t((s[0] + s[1]) * kv), 0.0);
  if (state) t["vdel"] = t["vdel0"];
  int64_t row = 0;
  int i = 0;
  for (int64_t n : {s[0], s[1]}) {
    for (int64_t r = row; r < row + n; ++r)
      for (int64_t c = 0; c < vh; ++c) {
        t["v"][size_t(r * kv + c)] = t["vcd"][size_t(r * kv + c)];
        t["v"][size_t(r * kv + vh + c)] =
            r > row ? t["vcd"][size_t((r - 1) * kv + vh + c)] : state ? t["vdel0"][size_t(i * vh + c)] : 0.0;
      }
    if (state && n > 0)
      for (int64_t c = 0; c < vh; ++c) t["vdel"][size_t(i * vh + c)] = t["vcd"][size_t((row + n - 1) * kv + vh + c)];
    row += n;
    ++i;
  }
}
Register value_shift_entry({
    "value_shift", "attention", {{3, 2, 4}, {5, 1, 8}, {9, 7, 16}}, {2048, 0, 128},
    [](const Shape& s, Rng& g, TD& t) { t["vcd"] = rnd(size_t((s[0] + s[1]) * 2 * s[2]), g); },
    [](Backend& be, const Shape& s, TF& t) {
      auto segs = training_segs({s[0], s[1]});
      t["v"].assign(t["vcd"].size(), 0.0f);
      be.value_shift(t["v"].data(), t["vcd"].data(), segs.data(), 2, s[2]);
    },
    [](const Shape& s, TD& t) { vshift_ref(s, t, false); },
    {"v"}, {}, {"vcd"},
    [](Backend& be, const Shape& s, TF& t) {
      auto segs = training_segs({s[0], s[1]});
      be.value_shift_backward(t["d:vcd"].data(), t["d:v"].data(), segs.data(), 2, s[2]);
    },
    [](const Shape& s, TD& t) {
      const int64_t vh = s[2], kv = 2 * vh;
      int64_t row = 0;
      for (int64_t n : {s[0], s[1]}) {
        for (int64_t r = row; r < row + n; ++r)
          for (int64_t c = 0; c < vh; ++c) {
            t["d:vcd"][size_t(r * kv + c)] += t["d:v"][size_t(r * kv + c)];
            if (r > row) t["d:vcd"][size_t((r - 1) * kv + vh + c)] += t["d:v"][size_t(r * kv + vh + c)];
          }
        row += n;
      }
    },
    {}, {0, 0}, {0, 0}, true, nullptr, [](const Shape& s) { return 16.0 * (s[0] + s[1]) * s[2]; }});

Register value_shift_state_entry({
    "value_shift_with_state", "attention", {{1, 1, 4}, {5, 1, 8}, {9, 7, 16}}, {1, 1, 128},
    [](const Shape& s, Rng& g, TD& t) {
      t["vcd"] = rnd(size_t((s[0] + s[1]) * 2 * s[2]), g);
      t["vdel0"] = rnd(size_t(2 * s[2]), g);
    },
    [](Backend& be, const Shape& s, TF& t) {
      auto segs = training_segs({s[0], s[1]});
      t["vdel"] = t["vdel0"];
      segs[0].vdel = t["vdel"].data();
      segs[1].vdel = t["vdel"].data() + s[2];
      t["v"].assign(t["vcd"].size(), 0.0f);
      be.value_shift(t["v"].data(), t["vcd"].data(), segs.data(), 2, s[2]);
    },
    [](const Shape& s, TD& t) { vshift_ref(s, t, true); },
    {"v", "vdel"}, {}, {}, nullptr, nullptr, {}, {0, 0}, {0, 0}, false, nullptr,
    [](const Shape& s) { return 16.0 * (s[0] + s[1]) * s[2]; }});

// Keys/values of two sequences appended to caches at their positions; the caches hold the backend's KV
// dtype (bf16 on cpu-bf16: rounded). shape: len1, len2, pos1, pos2, kvw.
Register kv_append_entry({
    "kv_append", "attention", {{1, 1, 0, 5, 8}, {3, 2, 4, 0, 16}, {7, 9, 11, 2, 256}}, {1, 1, 4095, 4095, 256},
    [](const Shape& s, Rng& g, TD& t) {
      t["k"] = rnd(size_t((s[0] + s[1]) * (s[4] + 3)), g);
      t["v"] = rnd(size_t((s[0] + s[1]) * s[4]), g);
    },
    [](Backend& be, const Shape& s, TF& t) {
      const int64_t kvw = s[4], cap = std::max(s[2] + s[0], s[3] + s[1]);
      const size_t esz = dtype_size(be.kv_dtype());
      std::vector<std::vector<uint8_t>> kc(2, std::vector<uint8_t>(size_t(cap * kvw) * esz, 0)), vc = kc;
      auto segs = training_segs({s[0], s[1]});
      for (int i = 0; i < 2; ++i) {
        segs[size_t(i)].pos = s[2 + i];
        segs[size_t(i)].kcache = kc[size_t(i)].data();
        segs[size_t(i)].vcache = vc[size_t(i)].data();
      }
      be.kv_append(segs.data(), 2, t["k"].data(), kvw + 3, t["v"].data(), kvw, kvw);
      t["kc"].clear();
      t["vc"].clear();
      for (int i = 0; i < 2; ++i)
        for (int64_t r = 0; r < s[i]; ++r)
          for (int64_t c = 0; c < kvw; ++c) {
            const size_t at = size_t((s[2 + i] + r) * kvw + c);
            for (auto [src, dst] : {std::pair{&kc, "kc"}, std::pair{&vc, "vc"}}) {
              const uint8_t* p = (*src)[size_t(i)].data() + at * esz;
              float f;
              if (esz == 2) {
                uint16_t h;
                std::memcpy(&h, p, 2);
                f = bf16_to_f32(h);
              } else {
                std::memcpy(&f, p, 4);
              }
              t[dst].push_back(f);
            }
          }
    },
    [](const Shape& s, TD& t) {
      const int64_t kvw = s[4];
      t["kc"].clear();
      t["vc"].clear();
      int64_t row = 0;
      for (int i = 0; i < 2; ++i) {
        for (int64_t r = 0; r < s[i]; ++r)
          for (int64_t c = 0; c < kvw; ++c) {
            t["kc"].push_back(t["k"][size_t((row + r) * (kvw + 3) + c)]);
            t["vc"].push_back(t["v"][size_t((row + r) * kvw + c)]);
          }
        row += s[i];
      }
    },
    {"kc", "vc"}, {}, {}, nullptr, nullptr, {}, {0, 0}, {5e-3, 0}, false, nullptr,
    [](const Shape& s) { return 8.0 * (s[0] + s[1]) * s[4]; }});

// Training attention over two segments (keys = their own rows). shape: len1, len2, nq, nk, d, window.
// q and k share rows of stride C = (nq+nk)·d like the model's qk_rope buffer.
void attn_inputs(const Shape& s, Rng& g, TD& t) {
  const int64_t T = s[0] + s[1], C = (s[2] + s[3]) * s[4];
  t["qk"] = rnd(size_t(T * C), g, 1.2);
  t["v"] = rnd(size_t(T * s[3] * s[4]), g);
}
Register attention_entry({
    "attention", "attention",
    {{3, 2, 2, 1, 4, 0}, {5, 17, 4, 2, 8, 0}, {20, 3, 4, 2, 8, 5}, {70, 40, 8, 2, 16, 0}, {300, 9, 2, 2, 8, 37}},
    {2048, 0, 8, 2, 128, 0}, attn_inputs,
    [](Backend& be, const Shape& s, TF& t) {
      const int nq = int(s[2]), nk = int(s[3]), d = int(s[4]);
      const int64_t C = (nq + nk) * d, qd = int64_t(nq) * d, kv = int64_t(nk) * d, T = s[0] + s[1];
      auto segs = training_segs({s[0], s[1]});
      t["out"].assign(size_t(T * qd), 0.0f);
      be.attention_forward(t["out"].data(), qd, t["qk"].data(), C, t["qk"].data() + qd, C, t["v"].data(), kv,
                           segs.data(), 2, nq, nk, d, int(s[5]), nullptr);
    },
    [](const Shape& s, TD& t) {
      const int nq = int(s[2]), nk = int(s[3]), d = int(s[4]);
      const int64_t C = (nq + nk) * d, qd = int64_t(nq) * d, kv = int64_t(nk) * d, T = s[0] + s[1];
      t["out"].assign(size_t(T * qd), 0.0);
      int64_t row = 0;
      for (int64_t n : {s[0], s[1]}) {
        ops::ref::attention_forward(t["out"].data() + row * qd, qd, t["qk"].data() + row * C, C,
                                    t["qk"].data() + row * C + qd, C, t["v"].data() + row * kv, kv, n, n, nq, nk, d,
                                    int(s[5]));
        row += n;
      }
    },
    {"out"}, {}, {"qk", "v"},
    [](Backend& be, const Shape& s, TF& t) {
      const int nq = int(s[2]), nk = int(s[3]), d = int(s[4]);
      const int64_t C = (nq + nk) * d, qd = int64_t(nq) * d, kv = int64_t(nk) * d, T = s[0] + s[1];
      auto segs = training_segs({s[0], s[1]});
      std::vector<float> out(size_t(T * qd)), stats(size_t(T * nq * 2));
      be.attention_forward(out.data(), qd, t["qk"].data(), C, t["qk"].data() + qd, C, t["v"].data(), kv, segs.data(),
                           2, nq, nk, d, int(s[5]), stats.data());
      be.attention_backward(t["d:qk"].data(), C, t["d:qk"].data() + qd, C, t["d:v"].data(), kv, t["d:out"].data(), qd,
                            t["qk"].data(), C, t["qk"].data() + qd, C, t["v"].data(), kv, out.data(), stats.data(),
                            segs.data(), 2, nq, nk, d, int(s[5]));
    },
    [](const Shape& s, TD& t) {
      const int nq = int(s[2]), nk = int(s[3]), d = int(s[4]);
      const int64_t C = (nq + nk) * d, qd = int64_t(nq) * d, kv = int64_t(nk) * d;
      int64_t row = 0;
      for (int64_t n : {s[0], s[1]}) {
        ops::ref::attention_backward(t["d:qk"].data() + row * C, C, t["d:qk"].data() + row * C + qd, C,
                                     t["d:v"].data() + row * kv, kv, t["d:out"].data() + row * qd, qd,
                                     t["qk"].data() + row * C, C, t["qk"].data() + row * C + qd, C,
                                     t["v"].data() + row * kv, kv, n, nq, nk, d, int(s[5]));
        row += n;
      }
    },
    {}, {2e-6, 1e-5}, {1.5e-2, 2e-2}, true,
    [](const Shape& s) {
      auto part = [&](double n) { return 4.0 * n * (n + 1) / 2 * s[2] * s[4]; };
      return part(double(s[0])) + part(double(s[1]));
    },
    nullptr});

// Decode and chunked prefill against caches: two sequences with S0 cached positions each append n new
// keys/values, then attend over the whole cache. shape: S0a, na, S0b, nb, nq, nk, d, window.
Register attention_cache_entry({
    "attention_with_cache", "attention",
    {{0, 1, 3, 1, 2, 1, 4, 0}, {5, 3, 0, 7, 4, 2, 8, 0}, {40, 1, 17, 20, 4, 2, 8, 6}, {7, 30, 2, 1, 8, 2, 16, 0}},
    {4095, 1, 4095, 1, 8, 2, 128, 0},
    [](const Shape& s, Rng& g, TD& t) {
      const int64_t kv = s[5] * s[6], C = (s[4] + s[5]) * s[6];
      t["qk"] = rnd(size_t((s[1] + s[3]) * C), g, 1.2);
      t["v"] = rnd(size_t((s[1] + s[3]) * kv), g);
      t["kold"] = rnd(size_t((s[0] + s[2]) * kv), g, 1.2);
      t["vold"] = rnd(size_t((s[0] + s[2]) * kv), g);
    },
    [](Backend& be, const Shape& s, TF& t) {
      const int nq = int(s[4]), nk = int(s[5]), d = int(s[6]);
      const int64_t C = (nq + nk) * d, qd = int64_t(nq) * d, kv = int64_t(nk) * d;
      const size_t esz = dtype_size(be.kv_dtype());
      auto segs = training_segs({s[1], s[3]});
      std::vector<std::vector<uint8_t>> kc(2), vc(2);
      int64_t old = 0;
      for (int i = 0; i < 2; ++i) {
        const int64_t S0 = s[2 * i], n = s[2 * i + 1];
        kc[size_t(i)].assign(size_t((S0 + n) * kv) * esz, 0);
        vc[size_t(i)].assign(size_t((S0 + n) * kv) * esz, 0);
        for (int64_t j = 0; j < S0 * kv; ++j) {
          const float kf = t["kold"][size_t((old * kv) + j)], vf = t["vold"][size_t((old * kv) + j)];
          if (esz == 2) {
            const uint16_t kh = f32_to_bf16(kf), vh = f32_to_bf16(vf);
            std::memcpy(kc[size_t(i)].data() + size_t(j) * 2, &kh, 2);
            std::memcpy(vc[size_t(i)].data() + size_t(j) * 2, &vh, 2);
          } else {
            std::memcpy(kc[size_t(i)].data() + size_t(j) * 4, &kf, 4);
            std::memcpy(vc[size_t(i)].data() + size_t(j) * 4, &vf, 4);
          }
        }
        old += S0;
        segs[size_t(i)].pos = S0;
        segs[size_t(i)].kcache = kc[size_t(i)].data();
        segs[size_t(i)].vcache = vc[size_t(i)].data();
      }
      be.kv_append(segs.data(), 2, t["qk"].data() + qd, C, t["v"].data(), kv, kv);
      t["out"].assign(size_t((s[1] + s[3]) * qd), 0.0f);
      be.attention_forward(t["out"].data(), qd, t["qk"].data(), C, nullptr, 0, nullptr, 0, segs.data(), 2, nq, nk, d,
                           int(s[7]), nullptr);
    },
    [](const Shape& s, TD& t) {
      const int nq = int(s[4]), nk = int(s[5]), d = int(s[6]);
      const int64_t C = (nq + nk) * d, qd = int64_t(nq) * d, kv = int64_t(nk) * d;
      t["out"].assign(size_t((s[1] + s[3]) * qd), 0.0);
      int64_t old = 0, row = 0;
      for (int i = 0; i < 2; ++i) {
        const int64_t S0 = s[2 * i], n = s[2 * i + 1];
        std::vector<double> K(size_t((S0 + n) * kv)), V(K.size());
        std::copy_n(t["kold"].begin() + old * kv, S0 * kv, K.begin());
        std::copy_n(t["vold"].begin() + old * kv, S0 * kv, V.begin());
        for (int64_t r = 0; r < n; ++r)
          for (int64_t c = 0; c < kv; ++c) {
            K[size_t((S0 + r) * kv + c)] = t["qk"][size_t((row + r) * C + qd + c)];
            V[size_t((S0 + r) * kv + c)] = t["v"][size_t((row + r) * kv + c)];
          }
        ops::ref::attention_forward(t["out"].data() + row * qd, qd, t["qk"].data() + row * C, C, K.data(), kv, V.data(),
                                    kv, n, S0 + n, nq, nk, d, int(s[7]));
        old += S0;
        row += n;
      }
    },
    {"out"}, {}, {}, nullptr, nullptr, {}, {2e-6, 0}, {1.5e-2, 0}, false,
    [](const Shape& s) { return 4.0 * (s[1] * (s[0] + s[1]) + s[3] * (s[2] + s[3])) * s[4] * s[6]; },
    [](const Shape& s) { return 2.0 * 4 * (s[0] + s[1] + s[2] + s[3]) * s[5] * s[6]; }});

}  // namespace
}  // namespace zaya::test
