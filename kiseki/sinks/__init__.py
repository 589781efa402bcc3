"""Where the SDK's writer thread sends records: the embedded store or a kiseki server."""
