package io.legate.http.filters.compressor;

/**
 * {@code CompressorPerRoute}: {@code disabled} turns response compression off for the route;
 * {@code overrides.response_direction_config.remove_accept_encoding_header} (when set) replaces the
 * filter's setting.
 *
 * @param removeAcceptEncodingHeader the override, or null when not set
 */
record CompressorPerRouteConfig(boolean disabled, Boolean removeAcceptEncodingHeader) {}
