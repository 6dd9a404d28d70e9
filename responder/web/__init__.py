"""The HTTP surface: error handling, authentication, intake routes and read-only views."""
