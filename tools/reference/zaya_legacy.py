"""Legacy (schema A, list layout) <-> native (upstream transformers) conversion for ZAYA1.

Schema A is the layout of the Zyphra `zaya` fork / ZAYA1-base: 2P separate layers, even = CCA attention,
odd = MoE, per-layer config lists.  The native layout is upstream `transformers.models.zaya` (P decoder
pairs).  See /work/shared/spec/zaya1-architecture.md §1.1, §6.1-§6.3.

`native_to_legacy` inverts the official converter mapping (§6.3); `legacy_to_native` is that mapping
(with the module names of §6.2: `rmsnorm_eda` -> `router_mlp.norm`, `final_norm` -> `norm`).  Both work
on plain dicts of torch tensors so that they can be checked against each other without files.
`legacy_a_to_b` / `legacy_b_to_a` translate the config between schema A and the flat scalar schema B of
ZAYA1-8B-legacy (same weights and tensor names).
"""

from __future__ import annotations

import math

import torch

RES_KEYS = ("hidden_states_scale", "hidden_states_bias", "residual_scale", "residual_bias")

# attention-layer tensors: legacy suffix (under model.layers.{2j}.self_attn.) -> native suffix (under model.layers.{j}.self_attn.)
ATTN_MAP = {
    "qkv.linear_q.weight": "qkv_proj.q_proj.weight",
    "qkv.linear_k.weight": "qkv_proj.k_proj.weight",
    "qkv.val_proj1.weight": "qkv_proj.v_proj_current.weight",
    "qkv.val_proj2.weight": "qkv_proj.v_proj_delayed.weight",
    "qkv.conv_qk.0.weight": "qkv_proj.conv_qk_depthwise.weight",
    "qkv.conv_qk.0.bias": "qkv_proj.conv_qk_depthwise.bias",
    "qkv.conv_qk.1.weight": "qkv_proj.conv_qk_grouped.weight",
    "qkv.conv_qk.1.bias": "qkv_proj.conv_qk_grouped.bias",
    "o_proj.weight": "o_proj.weight",
    # "qkv.temp" <-> "qk_norm.temp" handled separately (clamp_temp)
}

# router tensors: legacy suffix (under model.layers.{2j+1}.zaya_block.router.) -> native (under model.layers.{j}.mlp.gate.)
ROUTER_MAP = {
    "down_proj.weight": "down_proj.weight",
    "down_proj.bias": "down_proj.bias",
    "rmsnorm_eda.weight": "router_mlp.norm.weight",
    "router_mlp.0.weight": "router_mlp.fc1.weight",
    "router_mlp.0.bias": "router_mlp.fc1.bias",
    "router_mlp.2.weight": "router_mlp.fc2.weight",
    "router_mlp.2.bias": "router_mlp.fc2.bias",
    "router_mlp.4.weight": "router_mlp.out_proj.weight",
    "balancing_biases": "balancing_biases",
    # "router_states_scale" only for j > 0
}


def temp_to_legacy(t: torch.Tensor, clamp_temp: bool) -> torch.Tensor:
    """Native (linear) key temperature -> stored legacy value."""
    if not clamp_temp:
        return t.clone()
    if not bool(((t > math.exp(1e-7)) & (t < math.exp(2.0))).all()):
        raise ValueError("clamp_temp needs native temps in (exp(1e-7), e^2)")
    return torch.log(t.double()).float()


def temp_from_legacy(s: torch.Tensor, clamp_temp: bool) -> torch.Tensor:
    """Stored legacy value -> native (linear) key temperature (spec §3.5: exp(clip(temp, 1e-7, 2)))."""
    if not clamp_temp:
        return s.clone()
    return torch.exp(torch.clamp(s.float(), 1e-7, 2.0))


def make_clamp_temp_exact(t: torch.Tensor) -> torch.Tensor:
    """Nudge fp32 temps to a fixed point of temp_from_legacy(temp_to_legacy(.)) so the round trip is bit-exact."""
    t = t.float().clone()
    for _ in range(16):
        t2 = temp_from_legacy(temp_to_legacy(t, True), True)
        if torch.equal(t2, t):
            return t
        t = t2
    raise RuntimeError("clamp_temp round trip did not converge")


def native_to_legacy(sd: dict, cfg, clamp_temp: bool = False) -> tuple[dict, dict]:
    """Native state dict + ZayaConfig -> (legacy schema-A config dict, legacy state dict)."""
    P = cfg.num_hidden_layers
    nq, nk, d, H = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim, cfg.hidden_size
    if H != 2 * nq * d:
        raise ValueError(f"legacy layout needs hidden_size == 2*nq*head_dim ({H} != {2 * nq * d})")
    E, I, Dr = cfg.num_experts, cfg.moe_intermediate_size, cfg.router_hidden_size
    out: dict[str, torch.Tensor] = {}

    def put(k, v):
        out[k] = v.detach().to(torch.float32).contiguous().clone()

    put("model.embed_tokens.weight", sd["model.embed_tokens.weight"])
    put("model.final_norm.weight", sd["model.norm.weight"])
    for r in RES_KEYS:
        put(f"model.res_scale.{r}", sd[f"model.layers.{P - 1}.post_mlp_residual_scale.{r}"])
    put("model.layers.0.res_scale.hidden_states_scale", sd["model.input_hidden_states_scale"])
    put("model.layers.0.res_scale.hidden_states_bias", sd["model.input_hidden_states_bias"])
    for j in range(P):
        a, m, n = f"model.layers.{2 * j}.", f"model.layers.{2 * j + 1}.", f"model.layers.{j}."
        # attention layer 2j
        put(a + "input_norm.weight", sd[n + "input_layernorm.weight"])
        if j > 0:
            for r in RES_KEYS:
                put(a + f"res_scale.{r}", sd[f"model.layers.{j - 1}.post_mlp_residual_scale.{r}"])
        for lk, nk_ in ATTN_MAP.items():
            put(a + "self_attn." + lk, sd[n + "self_attn." + nk_])
        put(a + "self_attn.qkv.temp", temp_to_legacy(sd[n + "self_attn.qk_norm.temp"], clamp_temp))
        # MoE layer 2j+1
        put(m + "input_norm.weight", sd[n + "post_attention_layernorm.weight"])
        for r in RES_KEYS:
            put(m + f"res_scale.{r}", sd[n + f"post_attention_residual_scale.{r}"])
        for lk, nk_ in ROUTER_MAP.items():
            put(m + "zaya_block.router." + lk, sd[n + "mlp.gate." + nk_])
        if j > 0:
            put(m + "zaya_block.router.router_states_scale", sd[n + "mlp.gate.router_states_scale"])
        gu, dn = sd[n + "mlp.experts.gate_up_proj"], sd[n + "mlp.experts.down_proj"]
        for e in range(E):
            put(m + f"zaya_block.experts.local_experts.{e}.linear_fc1.weight", gu[e])
            put(m + f"zaya_block.experts.local_experts.{e}.linear_fc2.weight", dn[e])

    rp = cfg.rope_parameters
    lt = list(cfg.layer_types)
    swa = any(t == "hybrid_sliding" for t in lt)
    lcfg = {
        "model_type": "zaya",
        "architectures": ["ZayaForCausalLM"],
        "hidden_size": H,
        "vocab_size": cfg.vocab_size,
        "zaya_layers": [x for _ in range(P) for x in ("a", E)],
        "num_hidden_layers": 120,  # vestigial in schema A: loaders must use len(zaya_layers)
        "num_attention_heads": 2 * nq,
        "num_key_value_heads": nk,
        "kv_channels": d,
        "cca_num_q_heads": [x for _ in range(P) for x in (nq, 0)],
        "num_query_groups_list": [x for _ in range(P) for x in (nk, 0)],
        "ffn_hidden_size_list": [x for _ in range(P) for x in (0, 2 * I)],
        "zaya_mlp_expansion": [x for _ in range(P) for x in (0, Dr)],
        "moe_router_topk": 1,
        "zaya_use_mod": True,
        "zaya_use_eda": True,
        "scale_residual_merge": True,
        "residual_in_fp32": True,
        "norm_epsilon": cfg.rms_norm_eps,
        "partial_rotary_factor": rp["hybrid"].get("partial_rotary_factor", 0.5),
        "rope_theta": rp["hybrid"]["rope_theta"],
        "max_position_embeddings": cfg.max_position_embeddings,
        "tie_word_embeddings": True,
        "attention_bias": False,
        "add_bias_linear": False,
        "lm_head_bias": False,
        "gated_linear_unit": True,
        "activation_func": "swiglu",
        "normalization": "RMSNorm",
        "pad_token_id": cfg.pad_token_id,
        "bos_token_id": cfg.bos_token_id,
        "eos_token_id": cfg.eos_token_id,
        "torch_dtype": "float32",
    }
    if swa:
        w = cfg.sliding_window
        lcfg["swa_layers"] = [x for t in lt for x in ((w - 1) if t == "hybrid_sliding" else 0, 0)]
        lcfg["swa_rotary_base"] = rp["hybrid_sliding"]["rope_theta"]
        if rp["hybrid_sliding"].get("partial_rotary_factor", 0.5) != lcfg["partial_rotary_factor"]:
            raise ValueError("legacy layout has a single partial_rotary_factor")
    if clamp_temp:
        lcfg["clamp_temp"] = True
    if cfg.attention_bias or cfg.lm_head_bias:
        raise ValueError("biases not representable here")
    return lcfg, out


def legacy_config_to_native_kwargs(lc: dict) -> dict:
    """Schema-A config dict -> ZayaConfig kwargs (P from len(zaya_layers); num_hidden_layers ignored)."""
    zl = lc["zaya_layers"]
    if len(zl) % 2 or any(zl[i] != "a" for i in range(0, len(zl), 2)):
        raise ValueError("expected alternating ['a', E, ...] zaya_layers")
    P = len(zl) // 2
    H = lc["hidden_size"]
    d = lc.get("kv_channels") or H // lc["num_attention_heads"]
    if H // lc["num_attention_heads"] != d:
        raise ValueError("kv_channels inconsistent with hidden_size/num_attention_heads")
    nq = lc["cca_num_q_heads"][0]
    if nq * 2 != lc["num_attention_heads"]:
        raise ValueError("cca_num_q_heads must be num_attention_heads/2")
    nk = lc["num_query_groups_list"][0]
    swa = lc.get("swa_layers") or [0] * len(zl)
    att_swa = [swa[2 * j] for j in range(P)]
    layer_types = ["hybrid_sliding" if w > 0 else "hybrid" for w in att_swa]
    prf = lc.get("partial_rotary_factor", 0.5)
    kw = dict(
        vocab_size=lc["vocab_size"],
        hidden_size=H,
        num_hidden_layers=P,
        num_attention_heads=nq,
        num_key_value_heads=nk,
        head_dim=d,
        num_experts=zl[1],
        num_experts_per_tok=lc.get("moe_router_topk", 1),
        moe_intermediate_size=lc["ffn_hidden_size_list"][1] // 2,
        router_hidden_size=lc["zaya_mlp_expansion"][1],
        rms_norm_eps=lc["norm_epsilon"],
        max_position_embeddings=lc.get("max_position_embeddings", 4096),
        layer_types=layer_types,
        sliding_window=(max(att_swa) + 1) if max(att_swa) > 0 else None,
        rope_parameters={
            "hybrid": {"rope_type": "default", "rope_theta": float(lc.get("rope_theta", 10000.0)),
                       "partial_rotary_factor": prf},
            "hybrid_sliding": {"rope_type": "default", "rope_theta": float(lc.get("swa_rotary_base", 10000.0)),
                               "partial_rotary_factor": prf},
        },
        tie_word_embeddings=True,
        attention_bias=lc.get("attention_bias", False),
        lm_head_bias=lc.get("lm_head_bias", False),
        pad_token_id=lc.get("pad_token_id", 0),
        bos_token_id=lc.get("bos_token_id", 2),
        eos_token_id=lc.get("eos_token_id", 1),
    )
    return kw


# --------------------------------------------------------------------------------------------------
# Schema B: the flat scalar config of ZAYA1-8B-legacy (Zyphra fork branch `zaya1`, spec §0).  Same 2P layers and
# tensor names as schema A; one scalar per quantity; num_hidden_layers = number of LAYERS (2P);
# num_attention_heads = latent query heads (as in the zaya1 branch and the released ZAYA1-8B-legacy config:
# 8 heads with head_dim 128), not the schema-A "full" count 2·nq.

# Keys that both schemas write the same way.
_AB_SHARED = ("model_type", "architectures", "hidden_size", "vocab_size", "moe_router_topk", "zaya_use_mod",
              "zaya_use_eda", "scale_residual_merge", "residual_in_fp32", "norm_epsilon", "partial_rotary_factor",
              "rope_theta", "max_position_embeddings", "tie_word_embeddings", "attention_bias", "add_bias_linear",
              "lm_head_bias", "gated_linear_unit", "activation_func", "normalization", "pad_token_id", "bos_token_id",
              "eos_token_id", "torch_dtype", "clamp_temp", "swa_layers", "swa_rotary_base")


def _uniform(lc: dict, key: str, parity: int) -> int:
    vals = set(lc[key][parity::2])
    if len(vals) != 1:
        raise ValueError(f"{key}: per-layer values must be uniform, got {sorted(vals)}")
    return vals.pop()


def legacy_a_to_b(lc: dict) -> dict:
    """Schema-A config (per-layer lists) -> the schema-B config of the same checkpoint."""
    zl = lc["zaya_layers"]
    if len(zl) % 2 or any(zl[i] != "a" for i in range(0, len(zl), 2)) or len(set(zl[1::2])) != 1:
        raise ValueError("expected alternating ['a', E, ...] zaya_layers with one expert count")
    H = lc["hidden_size"]
    d = lc.get("kv_channels") or H // lc["num_attention_heads"]
    nq, nk = _uniform(lc, "cca_num_q_heads", 0), _uniform(lc, "num_query_groups_list", 0)
    if nq * 2 != lc["num_attention_heads"] or H != 2 * nq * d:
        raise ValueError("schema A needs num_attention_heads = 2·cca_num_q_heads and hidden_size = 2·nq·d")
    bc = {k: lc[k] for k in _AB_SHARED if k in lc}
    bc.update({
        "num_hidden_layers": len(zl),  # layers, not pairs
        "num_experts": zl[1],
        "num_attention_heads": nq,  # latent query heads
        "head_dim": d,
        "kv_channels": d,
        "num_query_groups": nk,
        "num_key_value_heads": nk,
        "ffn_hidden_size": _uniform(lc, "ffn_hidden_size_list", 1),
        "zaya_mlp_expansion": _uniform(lc, "zaya_mlp_expansion", 1),
        "rope_scaling": False,
    })
    swa = [w for w in lc.get("swa_layers") or [] if w > 0]
    if len(set(swa)) > 1:
        raise ValueError("one window per checkpoint expected")
    bc["sliding_window"] = swa[0] + 1 if swa else None  # HF convention (W counts the current token)
    return bc


def legacy_b_to_a(bc: dict) -> dict:
    """Schema-B config -> schema A, reading num_attention_heads as latent query heads (see above)."""
    L = bc["num_hidden_layers"]
    if L % 2:
        raise ValueError("schema B: num_hidden_layers counts layers and must be even")
    nq, nk, d = bc["num_attention_heads"], bc["num_query_groups"], bc["head_dim"]
    if bc.get("kv_channels", d) != d or bc.get("num_key_value_heads", nk) != nk:
        raise ValueError("schema B: kv_channels / num_key_value_heads disagree")
    lc = {k: bc[k] for k in _AB_SHARED if k in bc}
    P = L // 2
    lc.update({
        "zaya_layers": [x for _ in range(P) for x in ("a", bc["num_experts"])],
        "num_hidden_layers": 120,
        "num_attention_heads": 2 * nq,
        "num_key_value_heads": nk,
        "kv_channels": d,
        "cca_num_q_heads": [x for _ in range(P) for x in (nq, 0)],
        "num_query_groups_list": [x for _ in range(P) for x in (nk, 0)],
        "ffn_hidden_size_list": [x for _ in range(P) for x in (0, bc["ffn_hidden_size"])],
        "zaya_mlp_expansion": [x for _ in range(P) for x in (0, bc["zaya_mlp_expansion"])],
    })
    return lc


def legacy_to_native(lc: dict, lsd: dict) -> tuple[dict, dict]:
    """(legacy config dict, legacy state dict) -> (ZayaConfig kwargs, native state dict)."""
    kw = legacy_config_to_native_kwargs(lc)
    P, E = kw["num_hidden_layers"], kw["num_experts"]
    clamp = bool(lc.get("clamp_temp", False))
    used = set()

    def get(k):
        used.add(k)
        return lsd[k]

    sd = {
        "model.embed_tokens.weight": get("model.embed_tokens.weight"),
        "model.norm.weight": get("model.final_norm.weight"),
        "model.input_hidden_states_scale": get("model.layers.0.res_scale.hidden_states_scale"),
        "model.input_hidden_states_bias": get("model.layers.0.res_scale.hidden_states_bias"),
    }
    for j in range(P):
        a, m, n = f"model.layers.{2 * j}.", f"model.layers.{2 * j + 1}.", f"model.layers.{j}."
        sd[n + "input_layernorm.weight"] = get(a + "input_norm.weight")
        for lk, nk_ in ATTN_MAP.items():
            sd[n + "self_attn." + nk_] = get(a + "self_attn." + lk)
        sd[n + "self_attn.qk_norm.temp"] = temp_from_legacy(get(a + "self_attn.qkv.temp"), clamp)
        sd[n + "post_attention_layernorm.weight"] = get(m + "input_norm.weight")
        for r in RES_KEYS:
            sd[n + f"post_attention_residual_scale.{r}"] = get(m + f"res_scale.{r}")
            src = f"model.layers.{2 * j + 2}.res_scale.{r}" if j + 1 < P else f"model.res_scale.{r}"
            sd[n + f"post_mlp_residual_scale.{r}"] = get(src)
        for lk, nk_ in ROUTER_MAP.items():
            sd[n + "mlp.gate." + nk_] = get(m + "zaya_block.router." + lk).float()
        if j > 0:
            sd[n + "mlp.gate.router_states_scale"] = get(m + "zaya_block.router.router_states_scale")
        pre = m + "zaya_block.experts.local_experts."
        sd[n + "mlp.experts.gate_up_proj"] = torch.stack([get(pre + f"{e}.linear_fc1.weight") for e in range(E)])
        sd[n + "mlp.experts.down_proj"] = torch.stack([get(pre + f"{e}.linear_fc2.weight") for e in range(E)])
    unused = sorted(set(lsd) - used)
    if unused:
        raise ValueError(f"unused legacy tensors: {unused[:8]}")
    return kw, sd


# --------------------------------------------------------------------------------------------------
# Independent float64 forward of a schema-A checkpoint, written from the spec (§2.2, §2.4, §3, §4, §5),
# not from the upstream code.  Used to cross-check the golden logits and the legacy file layout.


def _rms(x, w, eps):
    return w * (x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps))


def legacy_forward(lc: dict, lsd: dict, ids: torch.Tensor, skip_mode: str = "zero"):
    """Schema-A forward in float64.  ids [B, T] -> (logits [B, T, V], slot choice [B, T, P]).

    skip_mode: "zero" (upstream: a skip token's MoE output is 0) or "passthrough" (legacy: w_skip * y).
    """
    W = {k: v.double() for k, v in lsd.items()}
    zl = lc["zaya_layers"]
    L = len(zl)  # num_hidden_layers is vestigial
    H = lc["hidden_size"]
    d = H // lc["num_attention_heads"]
    eps = lc["norm_epsilon"]
    clamp = bool(lc.get("clamp_temp", False))
    swa = lc.get("swa_layers") or [0] * L
    prf = lc.get("partial_rotary_factor", 0.5)
    B, T = ids.shape
    pos = torch.arange(T, dtype=torch.float64)

    h = W["model.embed_tokens.weight"][ids]
    r = None
    a_prev = None
    choices = []
    for i in range(L):
        p = f"model.layers.{i}."
        h = (h + W[p + "res_scale.hidden_states_bias"]) * W[p + "res_scale.hidden_states_scale"]
        r = h if i == 0 else h + (r + W[p + "res_scale.residual_bias"]) * W[p + "res_scale.residual_scale"]
        y = _rms(r, W[p + "input_norm.weight"], eps)
        if zl[i] == "a":
            a = p + "self_attn."
            nq, nk = lc["cca_num_q_heads"][i], lc["num_query_groups_list"][i]
            G = nq // nk
            qt = y @ W[a + "qkv.linear_q.weight"].T  # [B,T,nq*d]
            kt = y @ W[a + "qkv.linear_k.weight"].T  # [B,T,nk*d]
            u = torch.cat([qt, kt], -1)
            u = torch.cat([torch.zeros(B, 2, u.shape[-1], dtype=u.dtype), u], 1)  # u_{-2} = u_{-1} = 0
            w0, b0 = W[a + "qkv.conv_qk.0.weight"][:, 0, :], W[a + "qkv.conv_qk.0.bias"]
            m = b0 + w0[:, 0] * u[:, :-1] + w0[:, 1] * u[:, 1:]  # positions -1..T-1
            w1, b1 = W[a + "qkv.conv_qk.1.weight"], W[a + "qkv.conv_qk.1.bias"]  # [C, d, 2]
            ng = nq + nk
            mg = m.view(B, T + 1, ng, d)
            w1g = w1.view(ng, d, d, 2)  # [group, out, in, tap]
            o = (torch.einsum("goi,btgi->btgo", w1g[..., 0], mg[:, :-1])  # tap 0: older step
                 + torch.einsum("goi,btgi->btgo", w1g[..., 1], mg[:, 1:]))
            o = o.reshape(B, T, ng * d) + b1
            qh = qt.view(B, T, nq, d)
            kh = kt.view(B, T, nk, d)
            rq = 0.5 * (qh + kh[:, :, torch.arange(nq) // G])
            rk = rq.view(B, T, nk, G, d).mean(3)
            q = o[..., : nq * d].view(B, T, nq, d) + rq
            k = o[..., nq * d:].view(B, T, nk, d) + rk
            v1 = y @ W[a + "qkv.val_proj1.weight"].T
            v2 = y @ W[a + "qkv.val_proj2.weight"].T
            v2 = torch.cat([torch.zeros_like(v2[:, :1]), v2[:, :-1]], 1)
            v = torch.cat([v1, v2], -1).view(B, T, nk, d)
            temp = W[a + "qkv.temp"]
            if clamp:
                temp = torch.exp(temp.clamp(1e-7, 2.0))
            q = math.sqrt(d) * q / q.norm(dim=-1, keepdim=True)
            k = temp[:, None] * math.sqrt(d) * k / k.norm(dim=-1, keepdim=True)
            theta = lc.get("swa_rotary_base", 10000.0) if swa[i] > 0 else lc.get("rope_theta", 10000.0)
            rot = int(d * prf)
            half = rot // 2
            inv = float(theta) ** (-torch.arange(half, dtype=torch.float64) * 2 / rot)
            ang = pos[:, None] * inv[None]  # [T, half]
            cos, sin = torch.cos(ang)[None, :, None], torch.sin(ang)[None, :, None]

            def rope(x):
                x1, x2, rest = x[..., :half], x[..., half:rot], x[..., rot:]
                return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin, rest], -1)

            q, k = rope(q), rope(k)
            kk = k[:, :, torch.arange(nq) // G]
            vv = v[:, :, torch.arange(nq) // G]
            s = torch.einsum("bthd,bshd->bhts", q, kk) / math.sqrt(d)
            tt, ss = torch.arange(T)[:, None], torch.arange(T)[None, :]
            allowed = ss <= tt
            if swa[i] > 0:
                allowed = allowed & (tt - ss <= swa[i])  # swa_layers = number of previous tokens attended
            s = s.masked_fill(~allowed, float("-inf"))
            att = torch.softmax(s, -1)
            out = torch.einsum("bhts,bshd->bthd", att, vv).reshape(B, T, nq * d)
            h = out @ W[a + "o_proj.weight"].T
        else:
            E = zl[i]
            rt = p + "zaya_block.router."
            act = y @ W[rt + "down_proj.weight"].T + W[rt + "down_proj.bias"]
            if a_prev is not None and (rt + "router_states_scale") in W:
                act = act + W[rt + "router_states_scale"] * a_prev
            a_prev = act
            z = _rms(act, W[rt + "rmsnorm_eda.weight"], eps)
            g1 = F_gelu(z @ W[rt + "router_mlp.0.weight"].T + W[rt + "router_mlp.0.bias"])
            g2 = F_gelu(g1 @ W[rt + "router_mlp.2.weight"].T + W[rt + "router_mlp.2.bias"])
            prob = torch.softmax(g2 @ W[rt + "router_mlp.4.weight"].T, -1)
            sel = torch.argmax(prob + W[rt + "balancing_biases"], -1)  # [B, T]
            wsel = prob.gather(-1, sel[..., None])
            choices.append(sel)
            out = torch.zeros_like(y)
            for e in range(E):
                ex = p + f"zaya_block.experts.local_experts.{e}."
                gu = y @ W[ex + "linear_fc1.weight"].T
                I = gu.shape[-1] // 2
                he = torch.nn.functional.silu(gu[..., :I]) * gu[..., I:]
                oe = he @ W[ex + "linear_fc2.weight"].T
                out = torch.where((sel == e)[..., None], wsel * oe, out)
            if skip_mode == "passthrough":
                out = torch.where((sel == E)[..., None], wsel * y, out)
            h = out
    h = (h + W["model.res_scale.hidden_states_bias"]) * W["model.res_scale.hidden_states_scale"]
    r = h + (r + W["model.res_scale.residual_bias"]) * W["model.res_scale.residual_scale"]
    outn = _rms(r, W["model.final_norm.weight"], eps)
    logits = outn @ W["model.embed_tokens.weight"].T
    return logits, torch.stack(choices, -1)


def F_gelu(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
