"""A tiny random-weight llama GGUF, written at test time, so llama.cpp runs without a download.

Its tokenizer is SentencePiece-style with byte fallback (printable ASCII as whole tokens, every
other byte as <0xXX>), so it tokenizes any text; its chat template is ChatML. The weights are
random but rigged through one "bias" dimension of the embeddings: control tokens can never be
sampled, so a completion always runs to max_tokens (token counts in tests are exact), and
printable characters are favoured over stray bytes.
"""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np

N_EMBD = 64
N_HEAD = 4
N_HEAD_KV = 2
N_FF = 128
N_LAYER = 2
CONTEXT_LENGTH = 32768  # above any n_ctx used, so llama.cpp does not warn
SPECIALS = ("<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>")
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
_BIAS_DIM = 0  # every embedding is large here, so after RMS norm this coordinate is ~ +8


def vocabulary() -> tuple[list[str], list[int]]:
    """Tokens and their types: specials, then the 256 byte tokens, then printable ASCII."""
    types = gguf.TokenType
    tokens = list(SPECIALS)
    kinds = [types.UNKNOWN] + [types.CONTROL] * (len(SPECIALS) - 1)
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    kinds += [types.BYTE] * 256
    tokens += ["\u2581"] + [chr(c) for c in range(33, 127)]  # "▁" is SentencePiece's space
    kinds += [types.NORMAL] * 95
    return tokens, [int(k) for k in kinds]


def write_tiny_gguf(path: Path) -> Path:
    """Write the model to `path` (about 1 MB; a fixed seed, so the file is the same every time)."""
    tokens, kinds = vocabulary()
    rng = np.random.default_rng(0)

    def weights(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("budgetml-tiny-test")
    writer.add_context_length(CONTEXT_LENGTH)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYER)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD_KV)
    writer.add_rope_dimension_count(N_EMBD // N_HEAD)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([0.0] * len(tokens))
    writer.add_token_types(kinds)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(SPECIALS.index("<|im_end|>"))
    writer.add_add_bos_token(False)
    writer.add_chat_template(CHAT_TEMPLATE)

    embeddings = weights(len(tokens), N_EMBD)
    embeddings[:, _BIAS_DIM] = 1.0
    output = weights(len(tokens), N_EMBD)
    output[: len(SPECIALS), _BIAS_DIM] = -5.0  # logit about -40: never sampled
    output[len(SPECIALS) + 256 :, _BIAS_DIM] = 0.5  # printable text over stray bytes
    writer.add_tensor("token_embd.weight", embeddings)
    writer.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    writer.add_tensor("output.weight", output)
    kv = N_EMBD // N_HEAD * N_HEAD_KV
    for i in range(N_LAYER):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        writer.add_tensor(f"blk.{i}.attn_q.weight", weights(N_EMBD, N_EMBD))
        writer.add_tensor(f"blk.{i}.attn_k.weight", weights(kv, N_EMBD))
        writer.add_tensor(f"blk.{i}.attn_v.weight", weights(kv, N_EMBD))
        writer.add_tensor(f"blk.{i}.attn_output.weight", weights(N_EMBD, N_EMBD))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", weights(N_FF, N_EMBD))
        writer.add_tensor(f"blk.{i}.ffn_up.weight", weights(N_FF, N_EMBD))
        writer.add_tensor(f"blk.{i}.ffn_down.weight", weights(N_EMBD, N_FF))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
