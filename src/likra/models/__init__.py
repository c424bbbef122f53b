"""The model side of a run: a base model by name, folder, .gguf or hub id (loading, registry), its pos/neg
LoRA adapters (heads), a run's heads at one checkpoint (likra_model), and a head's model card (card)."""
