"""Using trained models on new molecules: property prediction and embeddings."""
