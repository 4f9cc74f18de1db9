"""Code that travels inside saved students, so plain transformers can load and run them.

``save_qa_model`` copies these modules next to a student's weights (Hugging Face's ``auto_map``
and ``custom_pipelines`` conventions). Hence the rule for this package: its modules import only
the standard library, numpy, torch and transformers, and each other only by relative import.
The project uses the same code (featurization windows, answer spans), so what a user's
``pipeline`` answers is what the project's own evaluation scored.
"""
