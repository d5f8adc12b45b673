"""The answer model: local llama.cpp or a model server, its files, and the CPU it may use."""
