"""The GUI's rough memory estimate: LoRA trains the adapters only, a decoder pays for its logits."""

from gui.memory_estimate import estimate_training_bytes

INFO = {"parameters": 124_000_000, "layers": 12, "hidden_size": 768}


def test_lora_needs_less_than_full_training():
    full = estimate_training_bytes(INFO, {"inner_steps": 1}, examples=20, max_length=64)
    lora = estimate_training_bytes(INFO, {"inner_steps": 1, "scope": "lora", "lora_rank": 8}, examples=20, max_length=64)
    assert full is not None and lora is not None
    # the optimizer state of 124M weights (3 floats each) is the difference, nearly
    assert full - lora > 124_000_000 * 3 * 4 * 0.95


def test_a_decoder_pays_for_its_vocabulary_logits():
    encoder = estimate_training_bytes({**INFO, "kind": "encoder", "vocab_size": 50257}, {}, examples=8, max_length=64)
    decoder = estimate_training_bytes({**INFO, "kind": "decoder", "vocab_size": 50257}, {}, examples=8, max_length=64)
    assert decoder - encoder == 8 * 64 * 50257 * 2 * 4
