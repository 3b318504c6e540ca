"""Live stylization server: the FastAPI app (`app`) and the session scheduler (`scheduler`)."""
