"""The JSON API (/api/v1): one blueprint per feature; views only parse, call one use case and render."""
