"""The model-side operations training and scoring share: one tokenization, attention masks for packed
rows, segment attention, and logits only where they are needed."""
