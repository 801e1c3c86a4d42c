package io.legate.upstream;

/** The HTTP protocol a cluster speaks to its hosts. */
public enum UpstreamProtocol {
  /** HTTP/1.1 ({@code explicit_http_config.http_protocol_options}, the default). */
  HTTP1,
  /** HTTP/2 with prior knowledge ({@code explicit_http_config.http2_protocol_options}). */
  HTTP2,
  /** The downstream request's protocol ({@code use_downstream_protocol_config}). */
  USE_DOWNSTREAM
}
