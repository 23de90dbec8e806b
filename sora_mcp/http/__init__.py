"""Streamable HTTP: the app factory (`app.build_http_app`), who may call it (`tokens`, `oauth`), signed download
links (`links`, `downloads`), and the request bounds that keep one bad client from tying the server up
(`limits`). stdio never imports this package."""
