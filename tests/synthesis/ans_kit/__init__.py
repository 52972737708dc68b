"""The ANS test kit for CDA documents, as the tests run it."""
