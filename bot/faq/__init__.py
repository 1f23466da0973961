"""The seller's FAQs: the YAML files in service and the admin page's editor."""
