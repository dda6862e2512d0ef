"""Authentication plugins: :class:`BasicAuth`, :class:`DigestAuth`, :class:`TokenAuth`."""
