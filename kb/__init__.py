"""kb: a cited-passage knowledge base over multilingual policy documents.

Importing kb is cheap on purpose (the CLI must start fast): heavy modules such as
faiss, the embedders and FastAPI are imported only where they are used.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
