"""The MCP App player (`io.modelcontextprotocol/ui`): an HTML view hosts render beside the video tools' results.

`app` registers the `ui://` resource, links the video tools to it and hides what only the app needs from clients
that did not negotiate Apps; `media` hands the iframe the job's files through the host (resources, no web server).
"""
