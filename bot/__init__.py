"""digestbot: new research papers that match your interests, delivered to Slack or the console.

The flow and the module map are in README.md ("How it works"); each stage is one module.
"""
