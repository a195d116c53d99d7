"""devloop: the logic behind tasks.py, driving the containerized inner loop."""
